// Package browser holds the web console's browser tests: they drive a real headless
// Chromium with github.com/chromedp/chromedp against the real `trackhook serve`
// binary (demo carrier, fast), with loopback receivers for callbacks and endpoints.
// It has no code of its own.
//
// What they cover: sign-in and sign-out; tracking a container through the form and
// watching its timeline fill as the demo voyage advances; adding an endpoint and
// seeing its messages arrive; a failing receiver and a resend from the UI; rotating
// a secret; creating and revoking an API key; a second account seeing none of the
// first's data; a form posted without its CSRF token refused; and, on every page
// visited, that the sign-in key is nowhere in the HTML, the URL, the cookies or the
// page's storage.
//
// How to run:
//
//	go test -race ./console/browser/                             # what CI runs
//	go test ./console/browser/ -run Timeline -v                  # one test, with its steps logged
//	go test ./console/browser/ -screenshots $PWD/shots           # a PNG of every page visited
//
// chromedp drives the browser over the DevTools protocol on a pipe, from Go: no Node,
// no WebDriver server, no port to open; it is a test-only dependency (the trackhook
// binary does not link it).
//
// The tests look for Chromium on PATH (Debian's package is `chromium`; .ci/run
// installs it in CI). Without one they skip and say so, except when CI=true, where
// they fail: CI must run them.
package browser
