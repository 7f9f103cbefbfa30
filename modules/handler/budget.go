package handler

import (
	"fmt"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/conversation"
	"github.com/claudette-dev/claudette-runner/modules/rpc"
)

// checkBudgets refuses a turn budget above the operator's (CONTRACT section
// 7): options.maxTokens above --max-turn-tokens, options.maxUsd above
// --max-turn-usd or without --model-prices. Positivity is checked by
// Options.Validate.
func checkBudgets(o conversation.Options, m config.MeterConfig) *rpc.Error {
	if o.MaxTokens != nil && m.MaxTurnTokens > 0 && *o.MaxTokens > m.MaxTurnTokens {
		return invalid("options.maxTokens", fmt.Sprintf("must be at most the runner's turn budget of %d tokens, got %d", m.MaxTurnTokens, *o.MaxTokens))
	}
	if o.MaxUSD != nil {
		if m.ModelPrices == "" {
			return invalid("options.maxUsd", "needs model prices, and this runner has none (--model-prices)")
		}
		if m.MaxTurnUSD > 0 && *o.MaxUSD > m.MaxTurnUSD {
			return invalid("options.maxUsd", fmt.Sprintf("must be at most the runner's turn budget of %g USD, got %g", m.MaxTurnUSD, *o.MaxUSD))
		}
	}
	return nil
}
