package plugin

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/midstream-io/midstream/sdk"
	pb "github.com/midstream-io/midstream/sdk/proto/connectorv1"
)

// This file is the one place that converts between the SDK's Go types and
// the protocol's generated types, in both directions, for both ends.

func kindToProto(k sdk.Kind) pb.Kind {
	switch k {
	case sdk.KindUser:
		return pb.Kind_KIND_USER
	case sdk.KindOrg:
		return pb.Kind_KIND_ORG
	}
	return pb.Kind_KIND_UNSPECIFIED
}

func kindFromProto(k pb.Kind) sdk.Kind {
	switch k {
	case pb.Kind_KIND_USER:
		return sdk.KindUser
	case pb.Kind_KIND_ORG:
		return sdk.KindOrg
	}
	return ""
}

func stateToProto(s sdk.State) pb.State {
	switch s {
	case sdk.StateActive:
		return pb.State_STATE_ACTIVE
	case sdk.StateDisabled:
		return pb.State_STATE_DISABLED
	case sdk.StateDeleted:
		return pb.State_STATE_DELETED
	}
	return pb.State_STATE_UNSPECIFIED
}

func stateFromProto(s pb.State) sdk.State {
	switch s {
	case pb.State_STATE_DISABLED:
		return sdk.StateDisabled
	case pb.State_STATE_DELETED:
		return sdk.StateDeleted
	}
	return sdk.StateActive
}

func attrToProto(name string, v sdk.Value) *pb.Attribute {
	a := &pb.Attribute{Name: name}
	switch v.Type() {
	case sdk.TypeString:
		a.Type, a.StringValue = pb.ValueType_VALUE_TYPE_STRING, v.Str()
	case sdk.TypeInt:
		a.Type, a.IntValue = pb.ValueType_VALUE_TYPE_INT, v.IntValue()
	case sdk.TypeBool:
		a.Type, a.BoolValue = pb.ValueType_VALUE_TYPE_BOOL, v.BoolValue()
	case sdk.TypeTime:
		a.Type, a.IntValue = pb.ValueType_VALUE_TYPE_TIME, v.TimeValue().UnixNano()
	case sdk.TypeStringList:
		a.Type, a.ListValue = pb.ValueType_VALUE_TYPE_STRING_LIST, v.List()
	}
	return a
}

func valueFromProto(a *pb.Attribute) sdk.Value {
	switch a.GetType() {
	case pb.ValueType_VALUE_TYPE_STRING:
		return sdk.String(a.GetStringValue())
	case pb.ValueType_VALUE_TYPE_INT:
		return sdk.Int(a.GetIntValue())
	case pb.ValueType_VALUE_TYPE_BOOL:
		return sdk.Bool(a.GetBoolValue())
	case pb.ValueType_VALUE_TYPE_TIME:
		return sdk.Time(time.Unix(0, a.GetIntValue()))
	case pb.ValueType_VALUE_TYPE_STRING_LIST:
		return sdk.StringList(a.GetListValue()...)
	}
	return sdk.Null()
}

func attrsToProto(a sdk.Attributes) []*pb.Attribute {
	if len(a) == 0 {
		return nil
	}
	out := make([]*pb.Attribute, 0, len(a))
	for k, v := range a {
		out = append(out, attrToProto(k, v))
	}
	return out
}

func attrsFromProto(as []*pb.Attribute) sdk.Attributes {
	if len(as) == 0 {
		return nil
	}
	m := make(sdk.Attributes, len(as))
	for _, a := range as {
		m[a.GetName()] = valueFromProto(a)
	}
	return m
}

func recordToProto(r *sdk.Record) *pb.Record {
	return &pb.Record{
		Kind:       kindToProto(r.Kind),
		ExternalId: r.ExternalID,
		State:      stateToProto(r.State),
		Parent:     r.Parent,
		Orgs:       r.Orgs,
		PrimaryOrg: r.PrimaryOrg,
		Attributes: attrsToProto(r.Attributes),
	}
}

func recordFromProto(r *pb.Record) sdk.Record {
	return sdk.Record{
		Kind:       kindFromProto(r.GetKind()),
		ExternalID: r.GetExternalId(),
		State:      stateFromProto(r.GetState()),
		Parent:     r.GetParent(),
		Orgs:       r.GetOrgs(),
		PrimaryOrg: r.GetPrimaryOrg(),
		Attributes: attrsFromProto(r.GetAttributes()),
	}
}

func refToProto(r *sdk.Ref) *pb.Ref {
	if r == nil {
		return nil
	}
	return &pb.Ref{HubId: r.HubID, TargetId: r.TargetID}
}

func refFromProto(r *pb.Ref) *sdk.Ref {
	if r == nil {
		return nil
	}
	return &sdk.Ref{HubID: r.GetHubId(), TargetID: r.GetTargetId()}
}

func operationToProto(op *sdk.Operation) *pb.Operation {
	p := &pb.Operation{
		Id:          op.ID,
		Op:          string(op.Op),
		Kind:        kindToProto(op.Kind),
		HubId:       op.HubID,
		TargetId:    op.TargetID,
		DisplayName: op.DisplayName,
		Attributes:  attrsToProto(op.Attributes),
		Parent:      refToProto(op.Parent),
	}
	for i := range op.Orgs {
		p.Orgs = append(p.Orgs, refToProto(&op.Orgs[i]))
	}
	return p
}

func operationFromProto(p *pb.Operation) sdk.Operation {
	op := sdk.Operation{
		ID:          p.GetId(),
		Op:          sdk.Op(p.GetOp()),
		Kind:        kindFromProto(p.GetKind()),
		HubID:       p.GetHubId(),
		TargetID:    p.GetTargetId(),
		DisplayName: p.GetDisplayName(),
		Attributes:  attrsFromProto(p.GetAttributes()),
		Parent:      refFromProto(p.GetParent()),
	}
	for _, r := range p.GetOrgs() {
		op.Orgs = append(op.Orgs, *refFromProto(r))
	}
	return op
}

func errorToProto(err error) *pb.Error {
	if err == nil {
		return nil
	}
	e := sdk.AsError(err)
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return &pb.Error{
		Category:     string(e.Category),
		Code:         e.Code,
		Message:      msg,
		HttpStatus:   int32(e.HTTPStatus),
		BodyExcerpt:  e.BodyExcerpt,
		RetryAfterMs: e.RetryAfter.Milliseconds(),
	}
}

func errorFromProto(p *pb.Error) *sdk.Error {
	if p == nil {
		return nil
	}
	cat := sdk.Category(p.GetCategory())
	switch cat {
	case sdk.CategoryRetryable, sdk.CategoryRateLimited, sdk.CategoryPermanent, sdk.CategoryConflict, sdk.CategoryNotFound:
	default:
		cat = sdk.CategoryPermanent
	}
	return &sdk.Error{
		Category:    cat,
		Code:        p.GetCode(),
		Message:     p.GetMessage(),
		HTTPStatus:  int(p.GetHttpStatus()),
		BodyExcerpt: p.GetBodyExcerpt(),
		RetryAfter:  time.Duration(p.GetRetryAfterMs()) * time.Millisecond,
	}
}

func diagsToProto(ds sdk.Diagnostics) []*pb.Diagnostic {
	out := make([]*pb.Diagnostic, 0, len(ds))
	for _, d := range ds {
		sev := pb.Diagnostic_SEVERITY_ERROR
		if d.Severity == sdk.SeverityWarning {
			sev = pb.Diagnostic_SEVERITY_WARNING
		}
		out = append(out, &pb.Diagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail, Path: d.Path})
	}
	return out
}

func diagsFromProto(ps []*pb.Diagnostic) sdk.Diagnostics {
	var out sdk.Diagnostics
	for _, p := range ps {
		sev := sdk.SeverityError
		if p.GetSeverity() == pb.Diagnostic_SEVERITY_WARNING {
			sev = sdk.SeverityWarning
		}
		out = append(out, sdk.Diagnostic{Severity: sev, Summary: p.GetSummary(), Detail: p.GetDetail(), Path: p.GetPath()})
	}
	return out
}

func schemaToProto(s sdk.Schema) (*pb.Schema, error) {
	out := &pb.Schema{}
	for _, f := range s.Fields {
		pf := &pb.Field{
			Name: f.Name, Type: string(f.Type), Required: f.Required, Sensitive: f.Sensitive,
			Options: f.Options, Description: f.Description, Example: f.Example,
		}
		if f.Default != nil {
			d := f.Default
			if dur, ok := d.(time.Duration); ok {
				d = dur.String()
			}
			b, err := json.Marshal(d)
			if err != nil {
				return nil, fmt.Errorf("field %q: default: %w", f.Name, err)
			}
			pf.DefaultJson = b
		}
		out.Fields = append(out.Fields, pf)
	}
	return out, nil
}

func schemaFromProto(p *pb.Schema) (sdk.Schema, error) {
	var s sdk.Schema
	for _, pf := range p.GetFields() {
		f := sdk.Field{
			Name: pf.GetName(), Type: sdk.FieldType(pf.GetType()), Required: pf.GetRequired(),
			Sensitive: pf.GetSensitive(), Options: pf.GetOptions(), Description: pf.GetDescription(),
			Example: pf.GetExample(),
		}
		if len(pf.GetDefaultJson()) > 0 {
			var d any
			if err := json.Unmarshal(pf.GetDefaultJson(), &d); err != nil {
				return sdk.Schema{}, fmt.Errorf("field %q: default: %w", f.Name, err)
			}
			f.Default = jsonDefault(f.Type, d)
		}
		s.Fields = append(s.Fields, f)
	}
	return s, nil
}

// jsonDefault turns a default back from its JSON form into the Go type the
// schema declares, so a schema survives the round trip unchanged.
func jsonDefault(t sdk.FieldType, d any) any {
	switch t {
	case sdk.FieldInt:
		if n, ok := d.(float64); ok {
			return int64(n)
		}
	case sdk.FieldDuration:
		if s, ok := d.(string); ok {
			if dur, err := time.ParseDuration(s); err == nil {
				return dur
			}
		}
	case sdk.FieldStringList:
		if l, ok := d.([]any); ok {
			out := make([]string, 0, len(l))
			for _, e := range l {
				s, _ := e.(string)
				out = append(out, s)
			}
			return out
		}
	case sdk.FieldStringMap:
		if m, ok := d.(map[string]any); ok {
			out := make(map[string]string, len(m))
			for k, e := range m {
				out[k], _ = e.(string)
			}
			return out
		}
	}
	return d
}

func capsToProto(c sdk.Capabilities) *pb.Capabilities {
	return &pb.Capabilities{
		Source: c.Source, Incremental: c.Incremental, Target: c.Target,
		Lookup: c.Lookup, ConnectionTester: c.ConnectionTester, Closer: c.Closer,
	}
}

func capsFromProto(p *pb.Capabilities) sdk.Capabilities {
	return sdk.Capabilities{
		Source: p.GetSource(), Incremental: p.GetIncremental(), Target: p.GetTarget(),
		Lookup: p.GetLookup(), ConnectionTester: p.GetConnectionTester(), Closer: p.GetCloser(),
	}
}
