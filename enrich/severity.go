package enrich

import (
	"github.com/aegis-nsm/aegis/schemas"
)

// Severity is the ordered alert severity.
type Severity int

// Severities, lowest first.
const (
	SeverityNone Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"none", "low", "medium", "high", "critical"}

// String is the published name.
func (s Severity) String() string { return severityNames[s] }

// Score is the numeric ECS event.severity (Elastic's detection-rule scale).
func (s Severity) Score() int { return [...]int{0, 21, 47, 73, 99}[s] }

// BaseSeverity is the severity a class carries before any rule: an LLM
// stream is worth knowing about (low), an agent on a shell or a session
// handed to one is high, agent exfiltration critical. A verdict with a
// confidence under 0.6 is one step lower. The rules stage may raise it.
func BaseSeverity(c schemas.Class, confidence float64) Severity {
	var s Severity
	switch c {
	case schemas.ClassLLMStream:
		s = SeverityLow
	case schemas.ClassAgentShell, schemas.ClassHandoff:
		s = SeverityHigh
	case schemas.ClassAgentExfil:
		s = SeverityCritical
	default:
		return SeverityNone
	}
	if confidence < 0.6 && s > SeverityLow {
		s--
	}
	return s
}

// ATT&CK technique ids the classes map to (names and tactics in the
// attack table, which a test checks against MITRE's list).
const (
	techUnixShell  = "T1059.004"
	techSSH        = "T1021.004"
	techExfilC2    = "T1041"
	techSizeLimits = "T1030"
)

// ClassTechniques lists every technique id Techniques can return.
var ClassTechniques = []string{techUnixShell, techSSH, techExfilC2, techSizeLimits}

// Techniques maps a class (and, for shells, whether the session is SSH) to
// ATT&CK technique ids. LLM streams map to none: using a model is not an
// attack technique by itself; rules add context-specific techniques.
func Techniques(c schemas.Class, t schemas.Tuple, ids *schemas.IDSFlow) []string {
	ssh := t.DstPort == 22 || (ids != nil && ids.Service == "ssh")
	switch c {
	case schemas.ClassAgentShell, schemas.ClassHandoff:
		if ssh {
			return []string{techUnixShell, techSSH}
		}
		return []string{techUnixShell}
	case schemas.ClassAgentExfil:
		return []string{techExfilC2, techSizeLimits}
	}
	return nil
}

// ParseSeverity returns the severity with the published name, and whether
// name is one.
func ParseSeverity(name string) (Severity, bool) {
	for i, n := range severityNames {
		if n == name {
			return Severity(i), true
		}
	}
	return SeverityNone, false
}
