// Package config is the runner's one configuration: the settings table
// (CONTRACT.md section 1), loading in the order defaults < JSON file <
// environment < flags (or overrides, for programs that embed the runner),
// validation with one problem per line naming the flag, environment variable
// and config key to fix, and masking of secrets in String. It must not act on a setting: it only reads and checks them.
package config
