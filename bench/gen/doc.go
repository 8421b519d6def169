// Package gen generates SIP traffic for tests and benchmarks: realistic
// dialogs (INVITE with SDP, provisional and final replies, ACK, BYE),
// REGISTER with a 401 challenge and OPTIONS pings, with unique Call-IDs and
// varied users and user agents. It writes them as a pcap file in a chosen
// mix of encapsulations with a manifest of every message, sends them as HEP
// v3 over UDP, or puts raw Ethernet frames on an interface with an AF_PACKET
// socket.
//
// Every sender is bounded in count and in time. The HEP sender refuses any
// destination that is not loopback unless told otherwise; the raw sender
// writes only to the interface its caller names. Nothing here is used by the
// appliance at run time.
package gen
