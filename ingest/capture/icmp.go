package capture

// ICMP "ports" follow Zeek (src/packet_analysis/protocol/icmp/ICMP.cc,
// ICMP4_counterpart and ICMP6_counterpart): the source port is the ICMP
// type; the destination port is the type of the matching reply or request
// for the message kinds that come in pairs, so that a request and its reply
// form one bidirectional flow, and the ICMP code for one-way messages.

// icmp4Counterpart returns the destination "port" of an ICMPv4 message.
func icmp4Counterpart(typ, code uint8) uint8 {
	switch typ {
	case 8: // echo request
		return 0
	case 0: // echo reply
		return 8
	case 13: // timestamp
		return 14
	case 14: // timestamp reply
		return 13
	case 15: // information request
		return 16
	case 16: // information reply
		return 15
	case 10: // router solicitation
		return 9
	case 9: // router advertisement
		return 10
	case 17: // address mask request
		return 18
	case 18: // address mask reply
		return 17
	}
	return code
}

// icmp6Counterpart returns the destination "port" of an ICMPv6 message.
func icmp6Counterpart(typ, code uint8) uint8 {
	switch typ {
	case 128: // echo request
		return 129
	case 129: // echo reply
		return 128
	case 133: // router solicitation
		return 134
	case 134: // router advertisement
		return 133
	case 135: // neighbor solicitation
		return 136
	case 136: // neighbor advertisement
		return 135
	case 130: // multicast listener query
		return 131
	case 131: // multicast listener report
		return 130
	case 139: // node information query
		return 140
	case 140: // node information response
		return 139
	case 144: // home agent address discovery request
		return 145
	case 145: // home agent address discovery reply
		return 144
	}
	return code
}
