package rpc

// TokenCounts is the model use the relay counted of the running turns, summed
// (runner.ping "tokens"): Messages requests, tokens of each kind, and the
// cost when the operator gave prices.
type TokenCounts struct {
	Requests           int64    `json:"requests"`
	Input              int64    `json:"inputTokens"`
	Output             int64    `json:"outputTokens"`
	CacheCreationInput int64    `json:"cacheCreationInputTokens"`
	CacheReadInput     int64    `json:"cacheReadInputTokens"`
	CostUSD            *float64 `json:"costUsd,omitempty"`
}
