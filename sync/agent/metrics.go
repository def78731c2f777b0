package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heimdallhub/heimdall/sync/exchange"
)

type metrics struct {
	records     *prometheus.CounterVec
	pulls       *prometheus.CounterVec
	pullSeconds *prometheus.HistogramVec
	lag         *prometheus.GaugeVec
	lastContact *prometheus.GaugeVec

	repairs       *prometheus.CounterVec
	repairMissing *prometheus.CounterVec
	clockAhead    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, peers []exchange.Peer) (*metrics, error) {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "heimdall_sync_import_records_total",
			Help: "Records received from peers, by peer and outcome (appended; duplicate: another peer delivered it first; echo: of this peer's own origin; undecodable; repaired: appended by anti-entropy; released: claimed by an interrupted import that never reached the log, to be appended by a later pull).",
		}, []string{"peer", "outcome"}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "heimdall_sync_pulls_total", Help: "Pulls from peers, by peer and outcome (ok, refused, error).",
		}, []string{"peer", "outcome"}),
		pullSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "heimdall_sync_pull_duration_seconds", Help: "Duration of one pull from a peer (long polls included).",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 8),
		}, []string{"peer"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "heimdall_sync_lag_records", Help: "Records of the peer's log not yet read, as of the last pull.",
		}, []string{"peer"}),
		lastContact: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "heimdall_sync_last_contact_timestamp_seconds", Help: "When the last successful pull from the peer ended.",
		}, []string{"peer"}),
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "heimdall_sync_repair_rounds_total", Help: "Completed anti-entropy rounds, by peer.",
		}, []string{"peer"}),
		repairMissing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "heimdall_sync_repair_missing_total", Help: "Events anti-entropy found missing here, by peer.",
		}, []string{"peer"}),
		clockAhead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "heimdall_sync_clock_ahead_total",
			Help: "Imported events whose HLC lay more than 5 minutes ahead of this peer's wall clock (imported, but not observed by the local clocks), by peer.",
		}, []string{"peer"}),
	}
	for _, p := range peers {
		if p.URL == "" {
			continue
		}
		m.repairs.WithLabelValues(p.ID)
		m.repairMissing.WithLabelValues(p.ID)
		m.clockAhead.WithLabelValues(p.ID)
		for _, o := range []string{"appended", "duplicate", "echo", "undecodable", "repaired"} {
			m.records.WithLabelValues(p.ID, o)
		}
		for _, o := range []string{"ok", "refused", "error"} {
			m.pulls.WithLabelValues(p.ID, o)
		}
		m.lag.WithLabelValues(p.ID)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.records, m.pulls, m.pullSeconds, m.lag, m.lastContact, m.repairs, m.repairMissing, m.clockAhead} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
