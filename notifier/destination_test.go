package notifier

import (
	"errors"
	"testing"
)

func TestDestinationKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ url, want string }{
		{"https://Hooks.Example.com/x", "hooks.example.com:443"},
		{"http://hooks.example.com/x", "hooks.example.com:80"},
		{"https://hooks.example.com:8443/x", "hooks.example.com:8443"},
		{"https://hooks.example.com./x", "hooks.example.com:443"},
		{"https://user:pw@hooks.example.com/x", "hooks.example.com:443"},
		{"https://[2001:db8::1]/x", "[2001:db8::1]:443"},
		{"http://[2001:db8::1]:8080/x", "[2001:db8::1]:8080"},
		{"https://[fe80::1%25eth0]:8443/", "[fe80::1%eth0]:8443"},
	}
	for _, tt := range tests {
		if got, err := DestinationKey(tt.url); err != nil || got != tt.want {
			t.Errorf("DestinationKey(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "hooks.example.com", "ftp://hooks.example.com/", "http:///x", "http://[::1",
		"http://h.example:0/", "http://h.example:65536/", "http://1.2.3.4.5/", "http://256.1.1.1/"} {
		if got, err := DestinationKey(bad); !errors.Is(err, ErrInvalidCallbackURL) {
			t.Errorf("DestinationKey(%q) = %q, %v; want ErrInvalidCallbackURL", bad, got, err)
		}
	}
}

// TestDestinationKey_AliasesOfOneAddressShareAKey: each group spells one address and
// port in ways a receiver cannot tell apart; each must give one key.
func TestDestinationKey_AliasesOfOneAddressShareAKey(t *testing.T) {
	t.Parallel()
	groups := []struct {
		want    string
		aliases []string
	}{
		{"1.1.1.1:443", []string{
			"https://1.1.1.1/", "https://1.1.1.1:443/", "https://1.1.1.1:0443/", "https://1.1.1.1:000443/x",
			"http://1.1.1.1:443/", "https://[::ffff:1.1.1.1]/", "https://[::FFFF:101:101]:443/",
			"https://16843009/", "https://0x01010101/", "https://1.1.257/", "https://1.65793/", "https://01.1.1.1/",
			"https://1.1.1.1./", "HTTPS://1.1.1.1/",
		}},
		{"127.0.0.1:49556", []string{
			"http://127.0.0.1:49556/", "http://127.0.0.1:049556/", "http://127.1:49556/", "http://0x7f.1:49556/",
			"http://2130706433:49556/", "http://[::ffff:127.0.0.1]:49556/", "http://0177.0.0.1:49556/",
		}},
		{"[2001:db8::1]:443", []string{
			"https://[2001:db8::1]/", "https://[2001:DB8::1]/", "https://[2001:0db8:0000:0000:0000:0000:0000:0001]/",
			"https://[2001:db8:0:0::1]:443/", "http://[2001:db8::1]:00443/",
		}},
		{"hooks.example.com:443", []string{
			"https://hooks.example.com/", "https://HOOKS.Example.COM/", "https://hooks.example.com./", "https://hooks.example.com:0443/",
		}},
	}
	for _, g := range groups {
		for _, alias := range g.aliases {
			if got, err := DestinationKey(alias); err != nil || got != g.want {
				t.Errorf("DestinationKey(%q) = %q, %v; want %q", alias, got, err, g.want)
			}
		}
	}
}
