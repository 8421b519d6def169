// Command appliance captures SIP from a mirror port or an IPIP tunnel
// (AF_PACKET rings) and from HEP agents into ClickHouse, configured and
// controlled the way OpenSIPS and Kamailio sipcapture users know: the
// module's parameter names as flags, config-file keys and APPLIANCE_*
// environment variables, the sip_capture() decision as a filter expression,
// capture on/off at run time through the admin API.
//
// This package holds only flags, configuration, wiring, the admin API and
// signal handling; decoding, capture, storage and host checks live in
// decode/, ring/, capture/, sink/ and tuning/. See README.md.
package main
