package store

// TEMPORARY, for branch e12-a2 only: helper A1 (branch e12-a1) writes the
// EndpointStore methods of *DB. These stand-ins exist only so that the package's
// tests compile on this branch; the lead deletes this file at the merge.

import (
	"context"
	"errors"
	"time"

	"github.com/trackhook/trackhook/references"
)

var errA1 = errors.New("A1: EndpointStore is on branch e12-a1")

func (db *DB) CreateEndpoint(context.Context, references.Endpoint, int) (references.Endpoint, error) {
	return references.Endpoint{}, errA1
}

func (db *DB) GetEndpoint(context.Context, string, string) (references.Endpoint, error) {
	return references.Endpoint{}, errA1
}

func (db *DB) ListEndpoints(context.Context, string, references.ListQuery) (references.EndpointPage, error) {
	return references.EndpointPage{}, errA1
}

func (db *DB) PatchEndpoint(context.Context, string, string, func(*references.Endpoint) error) (references.Endpoint, error) {
	return references.Endpoint{}, errA1
}

func (db *DB) DeleteEndpoint(context.Context, string, string) error { return errA1 }

func (db *DB) RotateEndpointSecret(context.Context, string, string, string, time.Time) (references.Endpoint, error) {
	return references.Endpoint{}, errA1
}

func (db *DB) ListMessages(context.Context, string, string, references.MessageQuery) (references.MessagePage, error) {
	return references.MessagePage{}, errA1
}

func (db *DB) GetMessage(context.Context, string, string, string) (references.Message, references.MessageBody, error) {
	return references.Message{}, references.MessageBody{}, errA1
}

func (db *DB) ResendMessage(context.Context, string, string, string, time.Time) error { return errA1 }

func (db *DB) RecoverMessages(context.Context, string, string, time.Time, time.Time) (int, error) {
	return 0, errA1
}

func (db *DB) EndpointStats(context.Context, string, string, time.Time) (references.EndpointStats, error) {
	return references.EndpointStats{}, errA1
}

func (db *DB) ListAccountEvents(context.Context, string, uint64, int) ([]references.AccountEvent, error) {
	return nil, errA1
}
