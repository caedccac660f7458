package correlate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/aegis-nsm/aegis/enrich/attack"
	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/aegis-nsm/aegis/rules"
	"github.com/aegis-nsm/aegis/schemas"
)

// ReconRecord builds the recon record a sensor publishes on its detection
// topic for one finding of its rules engine (rules.Engine.TakeReconFindings),
// so that 'aegis correlate' can join the scan with what other sensors see.
// sensor names the publishing Aegis (aegis.yaml's sensor). event.id is a
// hash of the sensor, the source and the finding's times: re-reading the
// same IDS records yields the same id.
func ReconRecord(sensor string, f rules.ReconFinding) (*schemas.Recon, error) {
	if sensor == "" {
		return nil, errors.New("correlate: recon record: no sensor name")
	}
	a, err := netip.ParseAddr(f.Source)
	if err != nil {
		return nil, fmt.Errorf("correlate: recon record: source %q: %v", f.Source, err)
	}
	if f.At.IsZero() {
		return nil, errors.New("correlate: recon record: finding has no time")
	}
	src := a.WithZone("").Unmap().String()
	start := f.Start
	if start.IsZero() || start.After(f.At) {
		start = f.At
	}
	trigger, reason := "probes", fmt.Sprintf("probed about %d distinct targets (address and port) with %d connection attempts that nobody answered or that were refused, between %s and %s",
		f.Targets, f.Probes, start.UTC().Format(time.RFC3339), f.At.UTC().Format(time.RFC3339))
	if f.Alert {
		trigger, reason = "alert", "an IDS alert on one of its flows named a scan"
	}
	end := f.At.UTC().Format(time.RFC3339Nano)
	begin := start.UTC().Format(time.RFC3339Nano)
	techs := []string{techNetworkServiceDiscovery}
	if _, ok := attack.Lookup(techNetworkServiceDiscovery); !ok {
		return nil, errors.New("correlate: recon record: T1046 missing from the ATT&CK table")
	}
	return &schemas.Recon{
		Timestamp: end,
		Event: schemas.Event{
			ID:   hash32("aegis-recon", sensor, src, strconv.FormatInt(start.UnixNano(), 10), strconv.FormatInt(f.At.UnixNano(), 10)),
			Kind: "alert", Category: []string{"network", "intrusion_detection"}, Type: []string{"info"},
			Dataset: schemas.ReconDataset, Start: begin, End: end, Duration: int64(f.At.Sub(start)), Severity: severityScores[1],
		},
		Source: schemas.HostRef{IP: src},
		Threat: schemas.Threat{Framework: "MITRE ATT&CK", Technique: schemas.ThreatTechnique{ID: techs, Name: attack.Names(techs)}},
		Aegis: schemas.ReconAegis{
			SchemaVersion: schemas.ReconSchemaVersion, Sensor: sensor, Severity: "low", Trigger: trigger,
			Targets: max(f.Targets, 0), Probes: max(f.Probes, 0),
			Window:  schemas.ReconWindow{Start: begin, End: end},
			Reasons: []string{reason},
		},
	}, nil
}

// ReconMessage is ReconRecord encoded as the sink message 'aegis run'
// publishes: kind detection (the recon record travels on the detection
// topic, told apart by event.dataset "aegis.recon"), keyed by the source,
// severity low. Message.Record is nil (it is not a detection Record), so
// route it only to sinks that write Value (Kafka, JSON lines). done
// becomes Message.Done.
func ReconMessage(sensor string, f rules.ReconFinding, done func(error)) (sink.Message, error) {
	r, err := ReconRecord(sensor, f)
	if err != nil {
		return sink.Message{}, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return sink.Message{}, fmt.Errorf("correlate: recon record: %w", err)
	}
	return sink.Message{Kind: sink.KindDetection, Value: b, SourceIP: r.Source.IP, Severity: r.Aegis.Severity, ID: r.Event.ID, Done: done}, nil
}
