// Package importcheck holds the test that keeps pkg/homelab importable on
// its own: testdata/consumer is a module of its own (the program the
// README's "Using it from Go" shows) that imports only pkg/homelab; the
// test lists what it compiles (no simulator, nothing of pkg/sim or
// pkg/simlab), builds it, runs it, and checks the README quotes the
// program and its output as they are.
package importcheck
