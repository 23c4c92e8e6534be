//go:build race

package browser_test

// raceEnabled is true when the tests run under -race; the trackhook binary they start
// is then built with -race too, so data races in the console's handlers show up in
// its log (and fail the run).
const raceEnabled = true
