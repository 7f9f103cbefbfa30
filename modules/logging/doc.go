// Package logging builds the runner's zap logger: a console on stderr (colour
// only on a terminal) and JSON files under {dataDir}/logs, rotated by size:
// combined.log (info and above), error.log (errors), and debug.log (everything,
// only with --debug). It also adapts fx's event log to zap at debug level.
//
// It owns the log files and their rotation; it must not decide what is logged.
package logging
