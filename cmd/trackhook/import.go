package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

const importUsage = `trackhook import creates the references of a CSV file through a running service's
API (POST /references/batch), 1,000 rows a request, and reports each line.

  TRACKHOOK_API_KEY=thk_... trackhook import FILE.csv --url https://trackhook.example.com

The first row names the columns: container_id, bill_of_lading, booking_number,
carrier_code, callback_url, poll_interval, event_types (separated by spaces or
semicolons) and metadata.KEY for each metadata key; empty cells are left out. For
example:

  container_id,carrier_code,metadata.order
  MSCU1234566,MSCU,PO-4711
  CSQU3054383,,PO-4712

Each line is reported as "created ref_...", "exists ref_..." (already tracked: not a
failure, so an import can be run again) or "error FIELD: message". The exit status is
0 when no line failed, 1 when some did, 2 when the import could not run. The API key
is read from TRACKHOOK_API_KEY only (a flag would show it to other users of the
machine).`

// importBatchSize is how many rows go in one request: the route's maximum.
const importBatchSize = 1000

// errLinesFailed is returned when the import ran but some lines were refused.
var errLinesFailed = errors.New("some lines failed")

// importBatchResult is one item of the answer to POST /references/batch.
type importBatchResult struct {
	Status    int `json:"status"`
	Reference *struct {
		ID string `json:"id"`
	} `json:"reference"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
	ReferenceID string `json:"reference_id"`
}

func importCSV(ctx context.Context, args []string, e env) error {
	var baseURL string
	fs := newFlagSet("import", importUsage, e.stdout)
	fs.StringVar(&baseURL, "url", "", "the service's base URL, such as https://trackhook.example.com")
	if err := parseFlags(fs, args, e.getenv); err != nil {
		return err
	}
	key := e.getenv("TRACKHOOK_API_KEY")
	switch {
	case fs.NArg() != 1:
		return errors.New("import: give one CSV file: trackhook import FILE.csv --url URL (-h for help)")
	case baseURL == "":
		return errors.New("import: give the service's address with --url, such as --url https://trackhook.example.com")
	case !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://"):
		return fmt.Errorf("import: --url %q must start with http:// or https://", baseURL)
	case key == "":
		return errors.New("import: set TRACKHOOK_API_KEY to an API key with the write scope")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	rows, err := parseImportCSV(f)
	if err != nil {
		return fmt.Errorf("import: %s: %w", fs.Arg(0), err)
	}
	c := importClient{base: strings.TrimRight(baseURL, "/"), key: key, http: &http.Client{Timeout: 5 * time.Minute}}
	var created, existed, failed int
	for start := 0; start < len(rows); start += importBatchSize {
		batch := rows[start:min(start+importBatchSize, len(rows))]
		results, err := c.send(ctx, batch)
		if err != nil {
			return fmt.Errorf("import: lines %d to %d: %w; lines from %d on were not sent (run the import again: lines created already are reported as exists)",
				batch[0].Line, batch[len(batch)-1].Line, err, batch[0].Line)
		}
		for i, r := range results {
			line := batch[i].Line
			switch {
			case r.Status == http.StatusCreated && r.Reference != nil:
				created++
				fmt.Fprintf(e.stdout, "line %d: created %s\n", line, r.Reference.ID)
			case r.Status == http.StatusConflict && r.ReferenceID != "":
				existed++
				fmt.Fprintf(e.stdout, "line %d: exists %s\n", line, r.ReferenceID)
			case r.Error != nil && r.Error.Field != "":
				failed++
				fmt.Fprintf(e.stdout, "line %d: error %s: %s\n", line, r.Error.Field, r.Error.Message)
			case r.Error != nil:
				failed++
				fmt.Fprintf(e.stdout, "line %d: error: %s\n", line, r.Error.Message)
			default:
				failed++
				fmt.Fprintf(e.stdout, "line %d: error: the server answered status %d\n", line, r.Status)
			}
		}
	}
	fmt.Fprintf(e.stdout, "%d created, %d already tracked, %d failed\n", created, existed, failed)
	if failed > 0 {
		return fmt.Errorf("import: %d of %d lines: %w", failed, len(rows), errLinesFailed)
	}
	return nil
}

// importClient sends batches to a service.
type importClient struct {
	base, key string
	http      *http.Client
}

// send posts one batch and returns one result per row. The Idempotency-Key is the
// hash of the batch: running the same file again after a lost answer replays it
// rather than reporting its own references as existing.
func (c importClient) send(ctx context.Context, rows []importRow) ([]importBatchResult, error) {
	items := make([]importItem, len(rows))
	for i, r := range rows {
		items[i] = r.Item
	}
	body, err := json.Marshal(map[string]any{"references": items})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/references/batch", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "import-"+hex.EncodeToString(sum[:16]))
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("the server answered %d %s: %s", resp.StatusCode, e.Error.Code, e.Error.Message)
		}
		return nil, fmt.Errorf("the server answered %s", resp.Status)
	}
	var out struct {
		Results []importBatchResult `json:"results"`
	}
	if err := json.Unmarshal(data, &out); err != nil || len(out.Results) != len(rows) {
		return nil, fmt.Errorf("the server's answer is not one result per line (%d for %d): %v", len(out.Results), len(rows), err)
	}
	return out.Results, nil
}
