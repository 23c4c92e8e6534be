package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseImportCSV(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    []importRow
		wantErr string
	}{
		{
			name: "every column, multi-line cell, BOM and spaces",
			file: "\ufeffContainer_ID, carrier_code,callback_url,poll_interval,event_types,metadata.Order,metadata.note\n" +
				"MSCU1234566,MSCU,https://h.example/in,1h,shipment.updated;shipment.eta_changed  shipment.delivered,PO-1,\"two\nlines\"\n" +
				"CSQU3054383,,,,,,\n",
			want: []importRow{
				{Line: 2, Item: importItem{ContainerID: "MSCU1234566", CarrierCode: "MSCU", CallbackURL: "https://h.example/in", PollInterval: "1h",
					EventTypes: []string{"shipment.updated", "shipment.eta_changed", "shipment.delivered"}, Metadata: map[string]string{"Order": "PO-1", "note": "two\nlines"}}},
				{Line: 4, Item: importItem{ContainerID: "CSQU3054383"}},
			},
		},
		{
			name: "bookings and bills of lading",
			file: "booking_number,bill_of_lading,carrier_code\nBK123456,,MAEU\n,MAEU123456789,MAEU\n",
			want: []importRow{
				{Line: 2, Item: importItem{BookingNumber: "BK123456", CarrierCode: "MAEU"}},
				{Line: 3, Item: importItem{BillOfLading: "MAEU123456789", CarrierCode: "MAEU"}},
			},
		},
		{name: "empty file", file: "", wantErr: "header row"},
		{name: "header only", file: "container_id\n", wantErr: "no rows"},
		{name: "unknown column", file: "container_id,colour\nX,red\n", wantErr: `unknown column "colour"`},
		{name: "repeated column", file: "container_id,Container_ID\nX,Y\n", wantErr: "appears twice"},
		{name: "metadata without key", file: "container_id,metadata.\nX,Y\n", wantErr: "metadata key"},
		{name: "no identifier column", file: "carrier_code\nMSCU\n", wantErr: "no identifier column"},
		{name: "short row", file: "container_id,carrier_code\nX\n", wantErr: "line 2"},
		{name: "bad quote", file: "container_id\n\"X\n", wantErr: "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseImportCSV(strings.NewReader(tt.file))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tt.want)
			}
		})
	}
}

func FuzzParseImportCSV(f *testing.F) {
	f.Add("container_id,carrier_code,metadata.po\nMSCU1234566,MSCU,1\n")
	f.Add("\ufeffbooking_number,event_types\nBK1,a;b c\n\"x\ny\",\n")
	f.Add("container_id\n\"unterminated\n")
	f.Add("bill_of_lading,metadata.,x\n")
	f.Fuzz(func(t *testing.T, file string) {
		rows, err := parseImportCSV(strings.NewReader(file))
		if err != nil {
			return
		}
		if len(rows) == 0 {
			t.Fatal("no rows and no error")
		}
		last := 1
		for _, r := range rows {
			if r.Line <= last {
				t.Fatalf("line %d after line %d", r.Line, last)
			}
			last = r.Line
			for _, et := range r.Item.EventTypes {
				if et == "" || strings.ContainsAny(et, "; \t") {
					t.Fatalf("event type %q", et)
				}
			}
			for k := range r.Item.Metadata {
				if k == "" {
					t.Fatal("empty metadata key")
				}
			}
		}
	})
}
