// Package chart draws the console's small charts as SVG, on the server: no script
// and nothing fetched by the browser.
package chart

// PLACEHOLDER (helper D): Line and StackedBars.
