// SPDX-License-Identifier: MIT

package smtpc

// #include <smtpc.h>
import "C"

import "fmt"

// constDrift compares every Go constant that mirrors a C enumerator with the header it was compiled
// against; the tests fail on any difference (export_test.go).
func constDrift() []string {
	table := []struct {
		name   string
		goVal  int
		cValue int
	}{
		{"StatusOK", int(StatusOK), int(C.SMTPC_OK)},
		{"StatusInvalid", int(StatusInvalid), int(C.SMTPC_EINVAL)},
		{"StatusNoMemory", int(StatusNoMemory), int(C.SMTPC_ENOMEM)},
		{"StatusInternal", int(StatusInternal), int(C.SMTPC_EINTERNAL)},
		{"StatusState", int(StatusState), int(C.SMTPC_ESTATE)},
		{"StatusNotConnected", int(StatusNotConnected), int(C.SMTPC_ENOTCONN)},
		{"StatusResolve", int(StatusResolve), int(C.SMTPC_ERESOLVE)},
		{"StatusConnect", int(StatusConnect), int(C.SMTPC_ECONNECT)},
		{"StatusTimeout", int(StatusTimeout), int(C.SMTPC_ETIMEOUT)},
		{"StatusIO", int(StatusIO), int(C.SMTPC_EIO)},
		{"StatusDisconnected", int(StatusDisconnected), int(C.SMTPC_EDISCONNECTED)},
		{"StatusProtocol", int(StatusProtocol), int(C.SMTPC_EPROTOCOL)},
		{"StatusGreeting", int(StatusGreeting), int(C.SMTPC_EGREETING)},
		{"StatusHelo", int(StatusHelo), int(C.SMTPC_EHELO)},
		{"StatusReply", int(StatusReply), int(C.SMTPC_EREPLY)},
		{"StatusClosing", int(StatusClosing), int(C.SMTPC_ECLOSING)},
		{"StatusSenderRefused", int(StatusSenderRefused), int(C.SMTPC_ESENDER_REFUSED)},
		{"StatusRecipientsRefused", int(StatusRecipientsRefused), int(C.SMTPC_ERECIPIENTS_REFUSED)},
		{"StatusDataRefused", int(StatusDataRefused), int(C.SMTPC_EDATA_REFUSED)},
		{"StatusDeliveryUnknown", int(StatusDeliveryUnknown), int(C.SMTPC_EDELIVERY_UNKNOWN)},
		{"StatusNotSupported", int(StatusNotSupported), int(C.SMTPC_ENOTSUPPORTED)},
		{"StatusAuth", int(StatusAuth), int(C.SMTPC_EAUTH)},
		{"StatusUser", int(StatusUser), int(C.SMTPC_EUSER)},
		{"StatusTLS", int(StatusTLS), int(C.SMTPC_ETLS)},
		{"StatusTLSVerify", int(StatusTLSVerify), int(C.SMTPC_ETLS_VERIFY)},
		{"StatusTLSRequired", int(StatusTLSRequired), int(C.SMTPC_ETLS_REQUIRED)},
		{"StatusAuthMechanism", int(StatusAuthMechanism), int(C.SMTPC_EAUTH_MECHANISM)},
		{"StatusAuthInsecure", int(StatusAuthInsecure), int(C.SMTPC_EAUTH_INSECURE)},
		{"StatusCancelled", int(StatusCancelled), int(C.SMTPC_ECANCELLED)},
		{"SMTP", int(SMTP), int(C.SMTPC_PROTOCOL_SMTP)},
		{"LMTP", int(LMTP), int(C.SMTPC_PROTOCOL_LMTP)},
		{"TLSAuto", int(TLSAuto), int(C.SMTPC_TLS_AUTO)},
		{"TLSNone", int(TLSNone), int(C.SMTPC_TLS_NONE)},
		{"TLSOpportunistic", int(TLSOpportunistic), int(C.SMTPC_TLS_OPPORTUNISTIC)},
		{"TLSRequired", int(TLSRequired), int(C.SMTPC_TLS_REQUIRED)},
		{"TLSImplicit", int(TLSImplicit), int(C.SMTPC_TLS_IMPLICIT)},
		{"TraceSend", int(TraceSend), int(C.SMTPC_TRACE_SEND)},
		{"TraceRecv", int(TraceRecv), int(C.SMTPC_TRACE_RECV)},
		{"TraceData", int(TraceData), int(C.SMTPC_TRACE_DATA)},
		{"TraceInfo", int(TraceInfo), int(C.SMTPC_TRACE_INFO)},
		{"NotAttempted", int(NotAttempted), int(C.SMTPC_RCPT_NOT_ATTEMPTED)},
		{"Refused", int(Refused), int(C.SMTPC_RCPT_REFUSED)},
		{"Accepted", int(Accepted), int(C.SMTPC_RCPT_ACCEPTED)},
		{"Delivered", int(Delivered), int(C.SMTPC_RCPT_DELIVERED)},
		{"Failed", int(Failed), int(C.SMTPC_RCPT_FAILED)},
		{"Unknown", int(Unknown), int(C.SMTPC_RCPT_UNKNOWN)},
		{"MessageDelivered", int(MessageDelivered), int(C.SMTPC_MESSAGE_DELIVERED)},
		{"MessagePartial", int(MessagePartial), int(C.SMTPC_MESSAGE_PARTIAL)},
		{"MessageRefused", int(MessageRefused), int(C.SMTPC_MESSAGE_REFUSED)},
		{"MessageNotSent", int(MessageNotSent), int(C.SMTPC_MESSAGE_NOT_SENT)},
		{"MessageUnknown", int(MessageUnknown), int(C.SMTPC_MESSAGE_UNKNOWN)},
		{"TLS12", int(TLS12), int(C.SMTPC_TLS_VERSION_1_2)},
		{"TLS13", int(TLS13), int(C.SMTPC_TLS_VERSION_1_3)},
		{"DSNRetUnset", int(DSNRetUnset), int(C.SMTPC_DSN_RET_UNSET)},
		{"DSNRetFull", int(DSNRetFull), int(C.SMTPC_DSN_RET_FULL)},
		{"DSNRetHeaders", int(DSNRetHeaders), int(C.SMTPC_DSN_RET_HDRS)},
		{"NotifyNever", int(NotifyNever), int(C.SMTPC_DSN_NOTIFY_NEVER)},
		{"NotifySuccess", int(NotifySuccess), int(C.SMTPC_DSN_NOTIFY_SUCCESS)},
		{"NotifyFailure", int(NotifyFailure), int(C.SMTPC_DSN_NOTIFY_FAILURE)},
		{"NotifyDelay", int(NotifyDelay), int(C.SMTPC_DSN_NOTIFY_DELAY)},
		{"BodyAuto", int(BodyAuto), int(C.SMTPC_BODY_AUTO)},
		{"Body7Bit", int(Body7Bit), int(C.SMTPC_BODY_7BIT)},
		{"Body8BitMIME", int(Body8BitMIME), int(C.SMTPC_BODY_8BITMIME)},
		{"BodyBinaryMIME", int(BodyBinaryMIME), int(C.SMTPC_BODY_BINARYMIME)},
		{"SMTPUTF8Auto", int(SMTPUTF8Auto), int(C.SMTPC_SMTPUTF8_AUTO)},
		{"SMTPUTF8On", int(SMTPUTF8On), int(C.SMTPC_SMTPUTF8_ON)},
		{"SMTPUTF8Off", int(SMTPUTF8Off), int(C.SMTPC_SMTPUTF8_OFF)},
	}
	var out []string
	for _, e := range table {
		if e.goVal != e.cValue {
			out = append(out, fmt.Sprintf("%s is %d in Go, %d in smtpc.h", e.name, e.goVal, e.cValue))
		}
	}
	if C.SMTPC_DELIVERBY_RETURN != 1 || C.SMTPC_DELIVERBY_NOTIFY != 2 || C.SMTPC_MT_PRIORITY_UNSET != 100 {
		out = append(out, "DELIVERBY modes differ from smtpc.h (params.go uses 1 and 2)")
	}
	return out
}
