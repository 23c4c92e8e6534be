package poller

// MaxSourcesFile is maxSourcesFile, for the tests of package poller_test.
const MaxSourcesFile = maxSourcesFile
