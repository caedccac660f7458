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

// Technique is one ATT&CK technique id and name.
type Technique struct{ ID, Name string }

// ATT&CK techniques the detections map to (checked against MITRE's list by
// a test).
var (
	techWebProtocols = Technique{"T1071.001", "Web Protocols"}
	techUnixShell    = Technique{"T1059.004", "Unix Shell"}
	techSSH          = Technique{"T1021.004", "SSH"}
	techExfilC2      = Technique{"T1041", "Exfiltration Over C2 Channel"}
	techSizeLimits   = Technique{"T1030", "Data Transfer Size Limits"}
)

// KnownTechniques lists every technique enrich can emit.
var KnownTechniques = []Technique{techWebProtocols, techUnixShell, techSSH, techExfilC2, techSizeLimits}

// Techniques maps a class (and, for shells, whether the session is SSH) to
// ATT&CK techniques. LLM streams map to none: using a model is not an
// attack technique by itself; rules add context-specific techniques.
func Techniques(c schemas.Class, t schemas.Tuple, ids *schemas.IDSFlow) []Technique {
	ssh := t.DstPort == 22 || (ids != nil && ids.Service == "ssh")
	switch c {
	case schemas.ClassAgentShell, schemas.ClassHandoff:
		if ssh {
			return []Technique{techUnixShell, techSSH}
		}
		return []Technique{techUnixShell}
	case schemas.ClassAgentExfil:
		return []Technique{techExfilC2, techSizeLimits}
	}
	return nil
}
