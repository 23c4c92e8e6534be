package main

import (
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

func TestParseServeFlags_RetentionAndQuota(t *testing.T) {
	e, _, _ := newTestEnv(nil)
	c, err := parseServeFlags(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if c.retention != 720*time.Hour || c.deliveryLogRetention != 720*time.Hour || c.unsubscribedRetention != 720*time.Hour || c.maxActivePerAccount != 0 {
		t.Errorf("defaults: retention %s, delivery log %s, unsubscribed %s, quota %d; want 720h, 720h, 720h, 0",
			c.retention, c.deliveryLogRetention, c.unsubscribedRetention, c.maxActivePerAccount)
	}
	e, _, _ = newTestEnv(map[string]string{"TRACKHOOK_UNSUBSCRIBED_RETENTION": "48h", "TRACKHOOK_MAX_ACTIVE_REFERENCES_PER_ACCOUNT": "100"})
	c, err = parseServeFlags([]string{"--delivery-log-retention", "168h"}, e)
	if err != nil {
		t.Fatal(err)
	}
	if c.deliveryLogRetention != 168*time.Hour || c.unsubscribedRetention != 48*time.Hour || c.maxActivePerAccount != 100 {
		t.Errorf("set: delivery log %s, unsubscribed %s, quota %d; want 168h, 48h, 100", c.deliveryLogRetention, c.unsubscribedRetention, c.maxActivePerAccount)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--delivery-log-retention", "0s"}, "--delivery-log-retention"},
		{[]string{"--unsubscribed-retention", "-1h"}, "--unsubscribed-retention"},
		{[]string{"--max-active-references-per-account", "-1"}, "--max-active-references-per-account"},
		{[]string{"--max-endpoints-per-account", "-1"}, "--max-endpoints-per-account"},
	} {
		e, _, _ := newTestEnv(nil)
		if _, err := parseServeFlags(tc.args, e); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseServeFlags(%q) = %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}

func TestParseServeFlags_EndpointQuota(t *testing.T) {
	e, _, _ := newTestEnv(nil)
	c, err := parseServeFlags(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if c.maxEndpointsPerAccount != references.MaxEndpointsPerAccount {
		t.Errorf("default endpoint quota %d, want %d", c.maxEndpointsPerAccount, references.MaxEndpointsPerAccount)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want int
	}{
		{[]string{"--max-endpoints-per-account", "0"}, nil, 0},
		{[]string{"--max-endpoints-per-account", "7"}, nil, 7},
		{nil, map[string]string{"TRACKHOOK_MAX_ENDPOINTS_PER_ACCOUNT": "3"}, 3},
	} {
		e, _, _ := newTestEnv(tc.env)
		c, err := parseServeFlags(tc.args, e)
		if err != nil || c.maxEndpointsPerAccount != tc.want {
			t.Errorf("parseServeFlags(%q, %v): quota %d, %v; want %d", tc.args, tc.env, c.maxEndpointsPerAccount, err, tc.want)
		}
	}
}
