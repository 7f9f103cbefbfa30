package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
)

// Prices are the operator's model prices (--model-prices): a JSON object of
// model id to USD per million tokens of each kind, with an optional
// "default" for models it does not name:
//
//	{"claude-sonnet-4-5": {"input": 3, "output": 15, "cacheCreation": 3.75, "cacheRead": 0.3},
//	 "default":           {"input": 15, "output": 75, "cacheCreation": 18.75, "cacheRead": 1.5}}
//
// A model id matches its exact key, else the longest key it starts with
// followed by "-" (a dated id, claude-sonnet-4-5-20250929, takes the price of
// claude-sonnet-4-5), else "default". A model with no price adds nothing to
// the cost (the relay warns once per turn): give a "default" to price every
// model.
type Prices struct {
	models map[string]Price
	keys   []string // longest first, for prefix matches
	def    *Price
}

// Price is USD per million tokens of each kind.
type Price struct {
	Input         float64
	Output        float64
	CacheCreation float64
	CacheRead     float64
}

// DefaultPriceKey is the prices file's key for models it does not name.
const DefaultPriceKey = "default"

// priceFields are a price's JSON fields, in the order problems name them.
var priceFields = []string{"input", "output", "cacheCreation", "cacheRead"}

// LoadPrices reads a prices file. An error names the file, and for a bad
// entry the model and the field.
func LoadPrices(path string) (*Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model prices %s: %w", path, err)
	}
	p, err := parsePrices(data)
	if err != nil {
		return nil, fmt.Errorf("model prices %s: %w", path, err)
	}
	return p, nil
}

func parsePrices(data []byte) (*Prices, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object of model id to prices: %w", err)
	}
	if len(raw) == 0 {
		return nil, errors.New("no model has a price")
	}
	p := &Prices{models: map[string]Price{}}
	ids := make([]string, 0, len(raw))
	for id := range raw {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if strings.TrimSpace(id) == "" {
			return nil, errors.New("a model id is empty")
		}
		price, err := parsePrice(raw[id])
		if err != nil {
			return nil, fmt.Errorf("model %q: %w", id, err)
		}
		if id == DefaultPriceKey {
			p.def = &price
			continue
		}
		p.models[id] = price
		p.keys = append(p.keys, id)
	}
	slices.SortStableFunc(p.keys, func(a, b string) int { return len(b) - len(a) })
	return p, nil
}

func parsePrice(raw json.RawMessage) (Price, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return Price{}, fmt.Errorf("must be an object with the fields %s", strings.Join(priceFields, ", "))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return Price{}, err
	}
	for name := range fields {
		if !slices.Contains(priceFields, name) {
			return Price{}, fmt.Errorf("field %q is not a price (known: %s)", name, strings.Join(priceFields, ", "))
		}
	}
	var vals [4]float64
	for i, name := range priceFields {
		v, ok := fields[name]
		if !ok {
			return Price{}, fmt.Errorf("field %q is missing (USD per million tokens)", name)
		}
		if err := json.Unmarshal(v, &vals[i]); err != nil || vals[i] < 0 || math.IsInf(vals[i], 0) || math.IsNaN(vals[i]) {
			return Price{}, fmt.Errorf("field %q must be a number of USD per million tokens, at least 0, got %s", name, v)
		}
	}
	return Price{Input: vals[0], Output: vals[1], CacheCreation: vals[2], CacheRead: vals[3]}, nil
}

// lookup finds a model's price.
func (p *Prices) lookup(model string) (Price, bool) {
	if pr, ok := p.models[model]; ok {
		return pr, true
	}
	for _, k := range p.keys {
		if strings.HasPrefix(model, k+"-") {
			return p.models[k], true
		}
	}
	if p.def != nil {
		return *p.def, true
	}
	return Price{}, false
}

// Cost is what a turn's usage cost in USD; the second value lists the models
// that have no price (they add nothing).
func (p *Prices) Cost(u Usage) (float64, []string) {
	var total float64
	var unpriced []string
	for model, m := range u.Models {
		pr, ok := p.lookup(model)
		if !ok {
			if m.InputTokens+m.OutputTokens+m.CacheCreationInputTokens+m.CacheReadInputTokens > 0 {
				unpriced = append(unpriced, model)
			}
			continue
		}
		total += (float64(m.InputTokens)*pr.Input + float64(m.OutputTokens)*pr.Output +
			float64(m.CacheCreationInputTokens)*pr.CacheCreation + float64(m.CacheReadInputTokens)*pr.CacheRead) / 1e6
	}
	slices.Sort(unpriced)
	return total, unpriced
}
