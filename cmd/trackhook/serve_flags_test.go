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

func TestParseServeFlags_Lease(t *testing.T) {
	tests := []struct {
		name               string
		args               []string
		env                map[string]string
		lease, delivery    time.Duration
		wantErr, wantInErr string
	}{
		{name: "defaults", lease: 30 * time.Second, delivery: 30 * time.Second},
		{name: "a longer lease", args: []string{"--lease", "1m"}, lease: time.Minute, delivery: time.Minute},
		{name: "from the environment", env: map[string]string{"TRACKHOOK_LEASE": "45s"}, lease: 45 * time.Second, delivery: 45 * time.Second},
		{name: "short, with a short delivery timeout", args: []string{"--lease", "3s", "--delivery-timeout", "1s"}, lease: 3 * time.Second, delivery: 3 * time.Second},
		// The default lease makes room for a long delivery timeout, as serve always did.
		{name: "default lease, long delivery timeout", args: []string{"--delivery-timeout", "20s"}, lease: 30 * time.Second, delivery: time.Minute},
		{name: "given lease under 3x the delivery timeout", args: []string{"--lease", "20s"},
			wantErr: "--lease (20s) must be at least 3 times --delivery-timeout (10s), 30s", wantInErr: "give a longer --lease or a shorter --delivery-timeout"},
		{name: "environment lease under 3x the delivery timeout", env: map[string]string{"TRACKHOOK_LEASE": "10s"}, wantErr: "--lease (10s) must be at least 3 times"},
		{name: "too short", args: []string{"--lease", "500ms", "--delivery-timeout", "100ms"}, wantErr: "--lease must be at least 1s, not 500ms"},
		{name: "no delivery timeout", args: []string{"--delivery-timeout", "0s"}, wantErr: "--delivery-timeout must be above 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := newTestEnv(tt.env)
			c, err := parseServeFlags(tt.args, e)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.wantInErr) {
					t.Fatalf("parseServeFlags(%q) = %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || c.lease != tt.lease || c.deliveryLease != tt.delivery {
				t.Fatalf("parseServeFlags(%q): lease %v, delivery lease %v, %v; want %v, %v", tt.args, c.lease, c.deliveryLease, err, tt.lease, tt.delivery)
			}
		})
	}
}
