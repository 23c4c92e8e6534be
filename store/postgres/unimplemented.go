package postgres

// Methods of the contract not written yet, each removed from here by its owner when
// it is written (helper A: references, feeds and polls; B: deliveries; C: endpoints and
// messages; D: accounts, keys, audit and maintenance). This file is deleted before
// the backend lands.

import "errors"

var errNotImplemented = errors.New("postgres: not implemented yet")
