package relay

// Usage is the result's `relay` (CONTRACT section 7): what the relay counted
// of a turn's model use from the upstream's responses, not from the agent.
type Usage struct {
	Requests int64                  `json:"requests"`
	Models   map[string]*ModelUsage `json:"models"`
	CostUSD  *float64               `json:"costUsd,omitempty"` // only with --model-prices
}

// ModelUsage is one model's share of a turn's usage.
type ModelUsage struct {
	InputTokens              int64 `json:"inputTokens"`
	OutputTokens             int64 `json:"outputTokens"`
	CacheCreationInputTokens int64 `json:"cacheCreationInputTokens"`
	CacheReadInputTokens     int64 `json:"cacheReadInputTokens"`
	Requests                 int64 `json:"requests"`
}
