package main

// targets are the figures issue 17 sets targets on, gathered from the phases'
// sections of the result under names that stay the same from run to run, so that
// runs of the old and the new code compare field by field. A figure whose phase did
// not run is absent (null in the JSON: the fields are pointers).
type targets struct {
	// Target 1: changed polls a second (polls while every poll finds a change), the
	// CPU time per poll of the process and the service's share of it (the tool's
	// own share, the demo carrier's simulation, taken out: toolshare.go), the CPU
	// ceiling (cores / the service's CPU time per poll) and the rate over it.
	ChangedPollsPerSec       *float64 `json:"changed_polls_per_second"`
	CPUPerChangedPoll        *float64 `json:"cpu_us_per_changed_poll"`
	ToolCPUPerChangedPoll    *float64 `json:"tool_cpu_us_per_changed_poll"`
	ServiceCPUPerChangedPoll *float64 `json:"service_cpu_us_per_changed_poll"`
	CPUCeilingPerSec         *float64 `json:"cpu_ceiling_changed_polls_per_second"`
	CeilingRatio             *float64 `json:"ceiling_ratio"`
	CPUUtilization           *float64 `json:"changed_polls_cpu_utilization"`

	// Target 2: seconds from restarting `trackhook serve` after a SIGKILL to its
	// first poll (the crash phase, crash.go).
	RestartSecondsAfterCrash *float64 `json:"restart_seconds_after_crash"`

	// Target 3: the store after a full voyage with retention (the voyage phase):
	// bytes per reference still stored (the file's, and those bbolt's pages hold),
	// and bytes in use per update kept.
	StoreFileBytesPerRef  *float64 `json:"store_file_bytes_per_reference"`
	StoreInuseBytesPerRef *float64 `json:"store_inuse_bytes_per_reference"`
	StoreBytesPerUpdate   *float64 `json:"store_inuse_bytes_per_update"`

	// Target 4: durable deliveries over the raw POST loop in the same run, to one
	// receiver (the main run) and to --receivers receivers (the spread phase), and
	// the CPU time per delivery of each, trackhook's and the raw loop's.
	DeliveryRatioOne      *float64 `json:"delivery_ratio_one_receiver"`
	DeliveryCPUOne        *float64 `json:"delivery_cpu_us_one_receiver"`
	RawCPUOne             *float64 `json:"raw_post_cpu_us_one_receiver"`
	DeliveryRatioMany     *float64 `json:"delivery_ratio_many_receivers"`
	DeliveryCPUMany       *float64 `json:"delivery_cpu_us_many_receivers"`
	RawCPUMany            *float64 `json:"raw_post_cpu_us_many_receivers"`
	DeliveryManyReceivers *int     `json:"many_receivers"`
	DeliveryCPURatioOne   *float64 `json:"delivery_cpu_ratio_one_receiver"`
	DeliveryCPURatioMany  *float64 `json:"delivery_cpu_ratio_many_receivers"`

	// Target 5: p99 detect -> 2xx of the latency phase, the rate asked for and the
	// rate of updates offered, and whether it was held.
	P99DetectTo2xxMs *float64 `json:"p99_detect_to_2xx_ms"`
	LatencyRate      *float64 `json:"latency_rate"`
	LatencyOffered   *float64 `json:"latency_updates_offered_per_second"`
	LatencyHeld      *bool    `json:"latency_rate_offered"`

	// Target 6: anonymous memory per reference after the polls of the main run (the
	// tool's own per-reference state taken out), and after start-up on a store of
	// --startup-refs references.
	AnonBytesPerRef        *int64 `json:"anon_bytes_per_reference"`
	StartupAnonBytesPerRef *int64 `json:"startup_anon_bytes_per_reference"`
}

func ptr[T any](v T) *T { return &v }

// gather fills the targets from the phases that ran, leaving those set elsewhere.
func (r *result) gather() {
	t := &r.Targets
	if p := r.Polls; p != nil {
		t.ChangedPollsPerSec = ptr(p.Changed.PerSec)
		t.CPUPerChangedPoll = ptr(p.Changed.totalCPUMicro())
		t.ToolCPUPerChangedPoll = ptr(p.Service.ToolCPUMicro)
		t.ServiceCPUPerChangedPoll = ptr(p.Service.ServiceCPUMicro)
		t.CPUCeilingPerSec = ptr(p.Service.CeilingPerSec)
		t.CeilingRatio = ptr(p.Service.Ratio)
		t.CPUUtilization = ptr(p.Service.Utilization)
	}
	if v := r.Voyage; v != nil {
		t.StoreFileBytesPerRef = ptr(v.FileBytesPerRef)
		t.StoreInuseBytesPerRef = ptr(v.InuseBytesPerRef)
		t.StoreBytesPerUpdate = ptr(v.InuseBytesPerUpd)
	}
	if c := r.Crash; c != nil {
		t.RestartSecondsAfterCrash = ptr(c.RestartSeconds)
	}
	if d := r.Deliveries; d != nil {
		t.DeliveryRatioOne = ptr(d.Ratio)
		t.DeliveryCPUOne = ptr(d.Trackhook.totalCPUMicro())
		t.RawCPUOne = ptr(d.Baseline.CPUMicro)
		t.DeliveryCPURatioOne = ptr(d.CPURatio)
	}
	if s := r.Spread; s != nil {
		t.DeliveryRatioMany = ptr(s.Ratio)
		t.DeliveryCPUMany = ptr(s.Trackhook.totalCPUMicro())
		t.RawCPUMany = ptr(s.Baseline.CPUMicro)
		t.DeliveryManyReceivers = ptr(s.Receivers)
		t.DeliveryCPURatioMany = ptr(s.CPURatio)
	}
	if l := r.Latency; l != nil {
		t.P99DetectTo2xxMs = ptr(l.P99Ms)
		t.LatencyRate = ptr(l.Rate)
		t.LatencyOffered = ptr(l.Updates.PerSec)
		t.LatencyHeld = ptr(l.RateOffered)
	}
	if s := r.Store; s != nil {
		t.AnonBytesPerRef = ptr(s.AnonBytesPerRef)
	}
	if s := r.Startup; s != nil {
		t.StartupAnonBytesPerRef = ptr(s.PerReference.RSSAnonBytes)
	}
}
