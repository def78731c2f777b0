// Package rbac maps a verified token's claims to what the caller may do:
// permissions granted to roles, and a clearance level that bounds which
// classified data the caller may see. It is pure: no I/O, no clock, no
// global state.
//
// Roles come from one or more claims named by dot paths into the claim set
// (Config.RoleClaims, e.g. "groups" or "realm_access.roles"); the
// clearance from one claim (Config.ClearanceClaim, e.g. "clearance").
// Config.Grants maps a role to its permissions (ParseGrants reads them from
// a value like "heimdall-admin=admin+read;heimdall-analyst=read"), and
// Config.Levels lists the clearance levels, lowest first.
//
// Everything is denied by default: a caller without a granted role has no
// permission, and a caller whose clearance claim is missing or names no
// configured level has ClearanceRank -1 and sees nothing that has a level.
// Data whose level is empty or unknown counts as the highest level, so only
// callers cleared for the highest level see it.
//
//	subject := rbac.Resolve(cfg, principal.Claims)
//	if !subject.Can(rbac.Read) { ... 403 ... }
//	if !subject.MaySee(entity.Classification) { ... hide it ... }
package rbac
