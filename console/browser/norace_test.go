//go:build !race

package browser_test

// raceEnabled is false when the tests run without -race (see race_test.go).
const raceEnabled = false
