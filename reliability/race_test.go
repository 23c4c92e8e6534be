//go:build race

package reliability_test

// raceEnabled is true when the tests run under -race; the trackhook binary the crash
// tests start is then built with -race too, which reuses the packages already compiled
// for this test and reports data races in the child process.
const raceEnabled = true
