// Package bench holds end-to-end benchmarks of the pipeline and the
// baselines they are compared with: a large generated capture through the
// frame path against gopacket + ip4defrag + sipgo, the capture rings on a
// veth pair against tcpdump and gopacket's afpacket, and HEP v3 over UDP into
// a real ClickHouse at offered-rate steps. Subpackage gen generates the SIP
// traffic (also behind cmd/sipgen). Nothing here is needed at run time.
// Results, with dates, machines and commands, are in RESULTS.md.
package bench
