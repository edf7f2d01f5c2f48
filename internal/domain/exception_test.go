package domain

import (
	"testing"
	"time"
)

func TestCheckExceptionExpiry(t *testing.T) {
	now := time.Date(2026, 2, 28, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		expires time.Time
		ok      bool
	}{
		{time.Time{}, false},
		{now, false},
		{now.Add(time.Minute), true},
		{now.AddDate(1, 0, 0), true},
		{now.AddDate(1, 0, 0).Add(time.Second), false},
	} {
		err := CheckExceptionExpiry(tc.expires, now)
		if (err == nil) != tc.ok || (err != nil && FieldOf(err) != "expires_at") {
			t.Errorf("CheckExceptionExpiry(%v) = %v; want ok %v", tc.expires, err, tc.ok)
		}
	}
}

func TestExceptionApprovers(t *testing.T) {
	member := func(id int64, role Role) Member { return Member{User: User{ID: id}, Role: role} }
	team := []Member{member(1, RoleOwner), member(2, RoleMember), member(3, RoleViewer)}
	list, onlySelf := ExceptionApprovers(team, 2)
	if onlySelf || len(list) != 1 || list[0].User.ID != 1 {
		t.Errorf("approvers for member 2 = %+v, %v; want the owner alone", list, onlySelf)
	}
	if list, onlySelf := ExceptionApprovers([]Member{member(2, RoleMember), member(3, RoleViewer)}, 2); !onlySelf || len(list) != 1 || list[0].User.ID != 2 {
		t.Errorf("approvers with nobody else = %+v, %v; want the requester, alone", list, onlySelf)
	}
	for _, tc := range []struct {
		approver int64
		ok       bool
	}{{1, true}, {2, false}, {3, false}, {9, false}, {0, false}} {
		err := CheckExceptionApprover(team, 2, tc.approver)
		if (err == nil) != tc.ok || (err != nil && FieldOf(err) != "approver_id") {
			t.Errorf("CheckExceptionApprover(approver %d) = %v; want ok %v", tc.approver, err, tc.ok)
		}
	}
}
