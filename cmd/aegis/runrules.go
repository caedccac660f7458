package main

import (
	"sync"

	"github.com/aegis-nsm/aegis/rules"
	"github.com/aegis-nsm/aegis/schemas"
)

// ruleStage is the rules engine of 'aegis run', with its reload.
type ruleStage struct {
	mu     sync.Mutex // serialises reloads
	engine *rules.Engine
}

// loadRules loads the built-in and configured rules of cfg.
func loadRules(cfg *runConfig) (*ruleStage, error) {
	set, err := rules.Load(cfg.Rules)
	if err != nil {
		return nil, err
	}
	return &ruleStage{engine: rules.NewEngine(set, cfg.Rules)}, nil
}

// reload swaps in the rules of cfg, keeping the per-source state; on error
// the running set stays.
func (r *ruleStage) reload(cfg *runConfig) error {
	set, err := rules.Load(cfg.Rules)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.engine.Swap(set)
	return nil
}

// ObserveIDS feeds the reconnaissance counters.
func (r *ruleStage) ObserveIDS(f *schemas.IDSFlow) { r.engine.ObserveIDS(f) }

// Evaluate returns the rule hits on rec.
func (r *ruleStage) Evaluate(rec *schemas.Record) []schemas.RuleHit { return r.engine.Evaluate(rec) }

// TakeReconFindings returns the sources that crossed the scanning
// threshold since the last call.
func (r *ruleStage) TakeReconFindings() []rules.ReconFinding { return r.engine.TakeReconFindings() }
