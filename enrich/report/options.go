package report

import (
	"errors"
	"fmt"
	"time"

	"github.com/aegis-nsm/aegis/cadence"
)

// Defaults of Options.
const (
	DefaultMaxDetections  = 250
	DefaultTimelinePoints = 480
)

// Options configure a Report. The zero value of a field means its default.
type Options struct {
	// MaxDetections caps the detections the page shows (default 250): the
	// earliest by flow start are kept, and the page says how many more
	// there were. Class and severity counts cover every detection added.
	MaxDetections int
	// TimelinePoints caps the columns of a timeline (default 480): the
	// packets of each direction are decimated to the largest per column,
	// which is what a stem chart shows at that width anyway.
	TimelinePoints int
	// FlushGap groups packets of one direction closer than this into one
	// flush (one application write) for the gap histogram. Default: the
	// cadence analysis's default (cadence.DefaultConfig().FlushGap); set
	// it to the analyser's configured value.
	FlushGap time.Duration
	// Inputs name what was analysed (capture and log paths), shown in
	// the page header. Optional.
	Inputs []string
}

// DefaultOptions returns the defaults documented on each field.
func DefaultOptions() Options {
	return Options{
		MaxDetections:  DefaultMaxDetections,
		TimelinePoints: DefaultTimelinePoints,
		FlushGap:       cadence.DefaultConfig().FlushGap,
	}
}

// Validate reports settings that cannot work; zero values are valid (they
// mean the defaults).
func (o Options) Validate() error {
	var errs []error
	if o.MaxDetections < 0 {
		errs = append(errs, fmt.Errorf("report: max_detections %d: must be >= 1 (0 for the default %d)", o.MaxDetections, DefaultMaxDetections))
	}
	if o.TimelinePoints < 0 || (o.TimelinePoints > 0 && o.TimelinePoints < 16) {
		errs = append(errs, fmt.Errorf("report: timeline_points %d: must be >= 16 (0 for the default %d)", o.TimelinePoints, DefaultTimelinePoints))
	}
	if o.FlushGap < 0 {
		errs = append(errs, fmt.Errorf("report: flush_gap %v: must be positive (0 for the default)", o.FlushGap))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields and clamps invalid ones to the defaults.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.MaxDetections <= 0 {
		o.MaxDetections = d.MaxDetections
	}
	if o.TimelinePoints < 16 {
		o.TimelinePoints = d.TimelinePoints
	}
	if o.FlushGap <= 0 {
		o.FlushGap = d.FlushGap
	}
	o.Inputs = append([]string(nil), o.Inputs...)
	return o
}
