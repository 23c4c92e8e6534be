package demo

import (
	"errors"
	"math"

	"github.com/trackhook/trackhook/poller"
)

// Kind names this driver in a sources file: a carrier's type, the default key, and
// the demo block at the top.
const Kind = "demo"

// Driver returns the demo driver for a poller.Registry. Its sources run speed
// simulated seconds per real second (see Options.Speed), unless the file's demo block
// sets another speed. A carrier of type demo takes no other settings, and the demo
// can serve the carriers a file does not list (default: demo).
func Driver(speed float64) poller.Driver {
	opts := Options{Speed: speed}
	return poller.Driver{
		Kind: Kind,
		Carrier: func(b poller.Block) (poller.SourceConfig, error) {
			if len(b.Keys()) > 0 {
				return nil, errors.New("type: demo takes no other settings")
			}
			return opts, nil
		},
		Settings: func(b poller.Block) (poller.Driver, error) {
			var s settingsBlock
			if err := b.Decode(&s); err != nil {
				return poller.Driver{}, err
			}
			if s.Speed < 0 || math.IsNaN(s.Speed) || math.IsInf(s.Speed, 0) {
				return poller.Driver{}, errors.New("speed: must be a positive number of simulated seconds per second")
			}
			if s.Speed == 0 {
				return Driver(speed), nil
			}
			return Driver(s.Speed), nil
		},
		Fallback: opts,
	}
}

// settingsBlock is the demo block at the top of a sources file.
type settingsBlock struct {
	// Speed is simulated seconds per real second; 0 keeps the driver's.
	Speed float64 `yaml:"speed" json:"speed"`
}

// NewSource returns a demo Source with these options, on env's clock unless they
// set one: Options are the poller.SourceConfig of the demo carrier.
func (o Options) NewSource(name string, env poller.SourceEnv) (poller.Source, error) {
	if o.Clock == nil {
		o.Clock = env.Clock
	}
	return New(o), nil
}
