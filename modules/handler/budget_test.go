package handler

import (
	"encoding/json"
	"testing"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/workspace"
)

// options.maxTokens and options.maxUsd: positive, never above the operator's
// budget, maxUsd only with prices; each refusal is -32602 naming the field.
func TestTurnBudgetOptions(t *testing.T) {
	operator := config.MeterConfig{MaxTurnTokens: 1000, ModelPrices: "/etc/prices.json", MaxTurnUSD: 2}
	for name, tc := range map[string]struct {
		options string
		meter   config.MeterConfig
		field   string // "" = accepted
	}{
		"below the operator's":      {`{"maxTokens":999}`, operator, ""},
		"the operator's":            {`{"maxTokens":1000}`, operator, ""},
		"no operator budget":        {`{"maxTokens":5000000}`, config.MeterConfig{}, ""},
		"above the operator's":      {`{"maxTokens":1001}`, operator, "options.maxTokens"},
		"zero":                      {`{"maxTokens":0}`, operator, "options.maxTokens"},
		"negative":                  {`{"maxTokens":-5}`, operator, "options.maxTokens"},
		"fraction":                  {`{"maxTokens":1.5}`, operator, "options.maxTokens"},
		"string":                    {`{"maxTokens":"100"}`, operator, "options.maxTokens"},
		"usd below":                 {`{"maxUsd":1.5}`, operator, ""},
		"usd above":                 {`{"maxUsd":2.5}`, operator, "options.maxUsd"},
		"usd zero":                  {`{"maxUsd":0}`, operator, "options.maxUsd"},
		"usd without prices":        {`{"maxUsd":1}`, config.MeterConfig{}, "options.maxUsd"},
		"usd, prices, no op budget": {`{"maxUsd":100}`, config.MeterConfig{ModelPrices: "/p.json"}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			p := sendParams{WorkspaceID: "ws-1", ConversationID: "c-1", Prompt: "hi",
				Repository: &workspace.Repository{URL: "https://example.com/r.git"}, Options: json.RawMessage(tc.options)}
			turn, rerr := p.turn(config.GitConfig{AllowHTTP: true})
			if rerr == nil {
				rerr = checkBudgets(turn.Options, tc.meter)
			}
			if tc.field == "" {
				if rerr != nil {
					t.Fatalf("refused: %d %s", rerr.Code, rerr.Message)
				}
				return
			}
			checkInvalid(t, rerr, tc.field)
		})
	}
}
