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
	// Keys used only to tell a JSON line's log path.
	rolePath       // "_path" (json-streaming-logs)
	roleSSLHistory // ssl_history, cipher: an ssl record
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

// connRequired are the conn fields without which a record is useless.
var connRequired = [...]role{roleTS, roleOrigH, roleOrigP, roleRespH, roleRespP}
