// Command sipgen generates SIP traffic for tests and benchmarks (package
// bench/gen):
//
//	sipgen pcap -o calls.pcap -manifest calls.jsonl -scenarios 1000 -mix all
//	sipgen hep -addr 127.0.0.1:9060 -rate 50000 -count 500000 -duration 20s
//	sipgen raw -iface veth1 -rate 100000 -count 1000000 -duration 15s
//
// Every mode is bounded in count and time. hep refuses a destination that is
// not loopback unless -allow-nonlocal is given; raw writes only to the
// interface named with -iface.
package main
