package zeek

// role is what a column (TSV) or key (JSON) means to the decoder.
type role uint8

const (
	roleIgnore role = iota
	roleTS
	roleUID
	roleOrigH
	roleOrigP
	roleRespH
	roleRespP
	roleProto
	roleService
	roleDuration
	roleOrigBytes
	roleRespBytes
	roleConnState
	roleHistory
	roleOrigPkts
	roleRespPkts
	roleOrigIPBytes
	roleRespIPBytes
	roleTunnelParents
	roleIPProto
	roleCommunityID
	roleServerName
	roleVersion // ssl version
	roleJA3     // ja3 (salesforce/ja3 script)
	roleJA3S    // ja3s
	roleJA4     // ja4 (foxio/ja4 package)
	// Keys used only to tell a JSON line's log path.
	rolePath       // "_path" (json-streaming-logs)
	roleSSLHistory // ssl_history, cipher: an ssl record
	roleEventType  // "event_type": a Suricata EVE line, not Zeek
	numRoles
)

// roleNames are the Zeek field names, for error messages.
var roleNames = [numRoles]string{
	roleTS:            "ts",
	roleUID:           "uid",
	roleOrigH:         "id.orig_h",
	roleOrigP:         "id.orig_p",
	roleRespH:         "id.resp_h",
	roleRespP:         "id.resp_p",
	roleProto:         "proto",
	roleService:       "service",
	roleDuration:      "duration",
	roleOrigBytes:     "orig_bytes",
	roleRespBytes:     "resp_bytes",
	roleConnState:     "conn_state",
	roleHistory:       "history",
	roleOrigPkts:      "orig_pkts",
	roleRespPkts:      "resp_pkts",
	roleOrigIPBytes:   "orig_ip_bytes",
	roleRespIPBytes:   "resp_ip_bytes",
	roleTunnelParents: "tunnel_parents",
	roleIPProto:       "ip_proto",
	roleCommunityID:   "community_id",
	roleServerName:    "server_name",
	roleVersion:       "version",
	roleJA3:           "ja3",
	roleJA3S:          "ja3s",
	roleJA4:           "ja4",
	roleEventType:     "event_type",
	rolePath:          "_path",
	roleSSLHistory:    "ssl_history",
}

// roleOf maps a field name to its role. The switch on string(name) does
// not allocate.
func roleOf(name []byte) role {
	switch string(name) {
	case "ts":
		return roleTS
	case "uid":
		return roleUID
	case "id.orig_h":
		return roleOrigH
	case "id.orig_p":
		return roleOrigP
	case "id.resp_h":
		return roleRespH
	case "id.resp_p":
		return roleRespP
	case "proto":
		return roleProto
	case "service":
		return roleService
	case "duration":
		return roleDuration
	case "orig_bytes":
		return roleOrigBytes
	case "resp_bytes":
		return roleRespBytes
	case "conn_state":
		return roleConnState
	case "history":
		return roleHistory
	case "orig_pkts":
		return roleOrigPkts
	case "resp_pkts":
		return roleRespPkts
	case "orig_ip_bytes":
		return roleOrigIPBytes
	case "resp_ip_bytes":
		return roleRespIPBytes
	case "tunnel_parents":
		return roleTunnelParents
	case "ip_proto":
		return roleIPProto
	case "community_id":
		return roleCommunityID
	case "server_name":
		return roleServerName
	case "version":
		return roleVersion
	case "ja3":
		return roleJA3
	case "ja3s":
		return roleJA3S
	case "ja4":
		return roleJA4
	case "event_type":
		return roleEventType
	case "_path":
		return rolePath
	case "ssl_history", "cipher":
		return roleSSLHistory
	}
	return roleIgnore
}

// idRole maps the members of a nested "id" object (some pipelines un-flatten
// Zeek's dotted names) to roles.
func idRole(name []byte) role {
	switch string(name) {
	case "orig_h":
		return roleOrigH
	case "orig_p":
		return roleOrigP
	case "resp_h":
		return roleRespH
	case "resp_p":
		return roleRespP
	}
	return roleIgnore
}

// sslRole reports whether r is a field of an ssl record.
func sslRole(r role) bool {
	switch r {
	case roleUID, roleServerName, roleVersion, roleJA3, roleJA3S, roleJA4:
		return true
	}
	return false
}

// connRole reports whether r is a field of a conn record.
func connRole(r role) bool {
	return r != roleIgnore && r < roleServerName
}

// kept names the strings a record keeps (converted with one allocation).
type kept uint8

const (
	keptUID kept = iota
	keptCID
	keptSNI
	keptVersion
	keptJA3
	keptJA3S
	keptJA4
	numKept
)

// keptOf maps a string role to its kept string.
func keptOf(r role) kept {
	switch r {
	case roleUID:
		return keptUID
	case roleCommunityID:
		return keptCID
	case roleServerName:
		return keptSNI
	case roleVersion:
		return keptVersion
	case roleJA3:
		return keptJA3
	case roleJA3S:
		return keptJA3S
	}
	return keptJA4
}

// connRequired are the conn fields without which a record is useless.
var connRequired = [...]role{roleTS, roleOrigH, roleOrigP, roleRespH, roleRespP}
