// Package chtest starts a private ClickHouse server for tests: Debian's
// clickhouse-server run as a child process on free loopback ports with its
// data in a temporary folder. Tests that only read and write share one server
// per package (see Shared); tests that kill or pause the server start their own.
//
// When clickhouse-server is missing the harness installs it with apt-get if
// it runs as root, and otherwise skips the test with the reason.
package chtest
