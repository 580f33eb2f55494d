package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/purgewatch/purgewatch/internal/status"
	"github.com/purgewatch/purgewatch/scanner"
)

// Process holds the metrics purgewatch keeps about its own work. It implements arm.Observer.
type Process struct {
	scanDuration   prometheus.Histogram
	scans          *prometheus.CounterVec
	scanErrors     *prometheus.CounterVec
	requests       *prometheus.CounterVec
	remainingReads *prometheus.GaugeVec
	reloadOK       prometheus.Gauge
	reloadTime     prometheus.Gauge
	healthy        prometheus.Gauge
	lastComplete   prometheus.Gauge
	lastDuration   prometheus.Gauge
}

// NewProcess creates the process metrics and registers them, with build_info, on reg.
func NewProcess(reg prometheus.Registerer) *Process {
	p := &Process{
		scanDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "purgewatch_scan_duration_seconds", Help: "How long whole scans took.",
			Buckets: []float64{0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200},
		}),
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "purgewatch_scans_total", Help: "Scans by result: success, partial (some scopes failed), failed (nothing read), skipped (the previous scan was still running).",
		}, []string{"result"}),
		scanErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "purgewatch_scan_errors_total", Help: "Scopes that could not be read, by reason.",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "purgewatch_azure_requests_total", Help: "ARM requests sent, by operation and HTTP status (error: no response).",
		}, []string{"operation", "code"}),
		remainingReads: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "purgewatch_azure_ratelimit_remaining_reads", Help: "The last x-ms-ratelimit-remaining-subscription-reads ARM sent for the subscription.",
		}, []string{"subscription_id"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "purgewatch_config_last_reload_successful", Help: "1 when the last configuration reload succeeded.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "purgewatch_config_last_reload_success_timestamp_seconds", Help: "When the configuration was last loaded successfully (Unix time).",
		}),
		healthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "purgewatch_scan_healthy", Help: "1 when the last scan read every scope it should; 0 before the first scan, and after a partial or failed one.",
		}),
		lastComplete: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "purgewatch_last_complete_scan_timestamp_seconds", Help: "When the last scan that read every scope started (Unix time); 0 until one has.",
		}),
		// Beside the histogram: a rate over a window shorter than the schedule has no scan in it.
		lastDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "purgewatch_scan_last_duration_seconds", Help: "How long the last scan took, skipped ones aside: readable at any schedule, unlike a rate of the histogram.",
		}),
	}
	for _, r := range []string{status.ResultSuccess, status.ResultPartial, status.ResultFailed, status.ResultSkipped} {
		p.scans.WithLabelValues(r)
	}
	for _, r := range scanner.Reasons {
		p.scanErrors.WithLabelValues(string(r))
	}
	// purgewatch_build_info{version, revision, branch, goversion, goos, goarch, tags}, as every
	// Prometheus component exports it, from prometheus/common/version.
	buildInfo := versioncollector.NewCollector("purgewatch")
	reg.MustRegister(p.scanDuration, p.scans, p.scanErrors, p.requests, p.remainingReads, p.reloadOK, p.reloadTime, p.healthy, p.lastComplete, p.lastDuration, buildInfo)
	return p
}

// ScanFinished records a scan that ran.
func (p *Process) ScanFinished(result string, took time.Duration, errs []scanner.ScopeError) {
	p.scans.WithLabelValues(result).Inc()
	p.scanDuration.Observe(took.Seconds())
	p.lastDuration.Set(took.Seconds())
	for _, e := range errs {
		p.scanErrors.WithLabelValues(string(e.Reason)).Inc()
	}
}

// ScanHealth records whether the estate is seen whole, and since when; a blind purgewatch must
// never look like one that found nothing.
func (p *Process) ScanHealth(healthy bool, lastComplete time.Time) {
	p.healthy.Set(boolValue(healthy))
	if !lastComplete.IsZero() {
		p.lastComplete.Set(unix(lastComplete))
	}
}

// ScanSkipped records a tick that found the previous scan still running.
func (p *Process) ScanSkipped() { p.scans.WithLabelValues(status.ResultSkipped).Inc() }

// ConfigLoaded records a configuration (re)load.
func (p *Process) ConfigLoaded(ok bool, at time.Time) {
	p.reloadOK.Set(boolValue(ok))
	if ok {
		p.reloadTime.Set(unix(at))
	}
}

// Request implements arm.Observer.
func (p *Process) Request(operation string, status int, subscriptionID string, remainingReads int) {
	p.requests.WithLabelValues(operation, statusLabel(status)).Inc()
	if remainingReads >= 0 && subscriptionID != "" {
		p.remainingReads.WithLabelValues(subscriptionID).Set(float64(remainingReads))
	}
}

// Throttled implements arm.Observer; a 429 is already counted by Request with code 429.
func (p *Process) Throttled(string, string) {}
