package dcsa3

import (
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
)

// Kind names this driver in a sources file: carriers.CODE.type: dcsa-ct.
const Kind = "dcsa-ct"

// Driver returns the DCSA Container Tracking 3.0 driver for a poller.Registry. A
// carrier's block takes the keys of a dcsa carrier (base_url, auth, timeout,
// requests_per_second, max_concurrency, max_pages, max_events, max_body_bytes, with
// ${NAME} expanded in the same values) and page_size; push, push_poll_interval and
// inbound_auth are the registry's (see poller.PushConfig).
// testdata/sources/example.yaml shows them.
func Driver() poller.Driver {
	return poller.Driver{Kind: Kind, Carrier: decodeCarrier}
}

// carrierBlock is a CT 3.0 carrier's block in a sources file.
type carrierBlock struct {
	dcsa.CarrierBlock `yaml:",inline"`
	PageSize          int `yaml:"page_size" json:"page_size"`
}

// decodeCarrier decodes a carrier's block, expands its variables and checks it as New
// would.
func decodeCarrier(b poller.Block) (poller.SourceConfig, error) {
	var cb carrierBlock
	if err := b.Decode(&cb); err != nil {
		return nil, err
	}
	base, err := cb.CarrierBlock.Config(b)
	if err != nil {
		return nil, err
	}
	cfg := Config{Config: base, PageSize: cb.PageSize}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}
