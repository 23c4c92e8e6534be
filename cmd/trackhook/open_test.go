package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/store"
)

// TestRun_HeldStoreNamesTheOtherProcess: serve, keys and status on a store another
// process holds say so, where bbolt says only "timeout".
func TestRun_HeldStoreNamesTheOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "held.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // held open, as a running server does, until the subtests end
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--addr", "127.0.0.1:0"}, "stop it, or give this one another --db"},
		{[]string{"keys", "list"}, "stop it first, keys work on a stopped store"},
		{[]string{"status"}, "stop it, or ask the server with GET /admin/status"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			t.Parallel()
			e, _, _ := newTestEnv(nil)
			err := run(context.Background(), append(tt.args, "--db", path), e)
			want := "store " + path + " is in use by another trackhook process (most likely a running trackhook serve)"
			if !errors.Is(err, errStoreInUse) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s on a held store = %v; want %q and %q", tt.args[0], err, want, tt.want)
			}
		})
	}
}

func TestServe_ShortAPIKeyIsRefusedBeforeTheStoreIsCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "never.db")
	e, _, _ := newTestEnv(map[string]string{"TRACKHOOK_API_KEY": "short"})
	err := run(context.Background(), []string{"serve", "--db", path, "--addr", "127.0.0.1:0"}, e)
	if err == nil || err.Error() != "TRACKHOOK_API_KEY must be at least 16 characters" {
		t.Fatalf("serve with a 5-character key = %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused serve created %s (%v)", path, err)
	}
}
