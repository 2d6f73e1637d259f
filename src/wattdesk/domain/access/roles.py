"""Roles (岗位) and what each may do: policy as data, read by every interface (web, portal, API).

A role is a Django ``Group`` with one of the names below. A capability is a string that a view, an API
endpoint or a nav entry requires; a user's capabilities are the union over their roles (superusers have all).
Deny by default: a view that declares no capability is reachable by nobody but a superuser (see
``wattdesk.interfaces.web.access``), and the permission-matrix test walks every URL for every role.

What a user sees inside a capability is scoped separately (``queries.accounts_for``): meter readers and
collectors see only their routes / regions, customers only their own accounts.
"""

from __future__ import annotations

from typing import Final

ADMIN: Final = "admin"
BILLING_CLERK: Final = "billing_clerk"  # 核算员
METER_READER: Final = "meter_reader"  # 抄表员
COLLECTOR: Final = "collector"  # 催费员
CS_AGENT: Final = "cs_agent"  # 客服
MARKETING_MANAGER: Final = "marketing_manager"  # 营销经理
ANALYST: Final = "analyst"  # 分析员
CUSTOMER: Final = "customer"  # 客户

STAFF_ROLES: Final = (ADMIN, BILLING_CLERK, METER_READER, COLLECTOR, CS_AGENT, MARKETING_MANAGER, ANALYST)
ROLES: Final = (*STAFF_ROLES, CUSTOMER)

ROLE_LABELS: Final = {
    ADMIN: "系统管理员 Administrator",
    BILLING_CLERK: "核算员 Billing clerk",
    METER_READER: "抄表员 Meter reader",
    COLLECTOR: "催费员 Collector",
    CS_AGENT: "客服 Customer-service agent",
    MARKETING_MANAGER: "营销经理 Marketing manager",
    ANALYST: "分析员 Analyst",
    CUSTOMER: "客户 Customer",
}

# --- capabilities -------------------------------------------------------------------------------------
DASHBOARD_VIEW: Final = "dashboard.view"
CUSTOMERS_VIEW: Final = "customers.view"  # search, 360° page
READINGS_VIEW: Final = "readings.view"
READINGS_IMPORT: Final = "readings.import"
BILLING_VIEW: Final = "billing.view"  # bills, runs, bill documents
BILLING_RUN: Final = "billing.run"  # launch a billing run
BILLING_REVIEW: Final = "billing.review"  # approve / hold / cancel-and-rebill, issue
LEDGER_VIEW: Final = "ledger.view"
LEDGER_WAIVE: Final = "ledger.waive"  # waive late fees (违约金减免), audited
TARIFFS_VIEW: Final = "tariffs.view"
TARIFFS_EDIT: Final = "tariffs.edit"
AUDIT_VIEW: Final = "audit.view"
PORTAL_USE: Final = "portal.use"  # the customer self-service portal
OUTLETS_PLAN: Final = "outlets.plan"  # payment-outlet coverage and planning (网点规划)
COLLECTION_VIEW: Final = "collection.view"  # fee control (费控) balances and meter commands
PAYMENTS_COUNTER: Final = "payments.counter"  # counter payments and cash close (营业厅收费, 日结)
PAYMENTS_COLLECT: Final = "payments.collect"  # door-to-door collection and cash hand-over (走收, 交款)
COLLECTION_WORK: Final = "collection.work"  # the collector's worklist and visit outcomes (催费工单)
COLLECTION_ASSESS: Final = "collection.assess"  # collector KPI scorecards, supervisor dashboard (催费考核)
DUNNING_MANAGE: Final = "dunning.manage"  # cancel a planned disconnection (with a reason, audited)
PAYMENTS_REVERSE: Final = "payments.reverse"  # reverse (冲正) a posted payment, with a reason, audited
LEDGER_WAIVE_REQUEST: Final = "ledger.waive_request"  # ask for a late-fee waiver (approved by ledger.waive)
DUNNING_APPROVE: Final = "dunning.approve"  # approve a notified disconnection once its notice has elapsed
DUNNING_EXECUTE: Final = "dunning.execute"  # record a disconnection / restore as executed (field crew)
PAYMENTS_RECONCILE: Final = "payments.reconcile"  # reconcile the gateway statement (对账)
PAYMENTS_CLOSE_APPROVE: Final = "payments.close_approve"  # approve another cashier's 日结 with a discrepancy
COLLECTION_ASSIGN: Final = "collection.assign"  # assign collectors and meter readers to routes (抄表段分配)
METERING_ARCHIVE: Final = "metering.archive"  # customer transformers, models and the loss table (变损档案)
SERVICE_CHANGES: Final = "changes.record"  # record 变更用电 (减容, 暂停, 改类, 换表 ...) on a service point
TARIFFS_SIMULATE: Final = "tariffs.simulate"  # run and read tariff-change simulations (电价调整测算)

ALL_CAPABILITIES: Final = frozenset(
    {
        DASHBOARD_VIEW,
        CUSTOMERS_VIEW,
        READINGS_VIEW,
        READINGS_IMPORT,
        BILLING_VIEW,
        BILLING_RUN,
        BILLING_REVIEW,
        LEDGER_VIEW,
        LEDGER_WAIVE,
        TARIFFS_VIEW,
        TARIFFS_EDIT,
        AUDIT_VIEW,
        PORTAL_USE,
        OUTLETS_PLAN,
        COLLECTION_VIEW,
        PAYMENTS_COUNTER,
        PAYMENTS_COLLECT,
        COLLECTION_WORK,
        COLLECTION_ASSESS,
        DUNNING_MANAGE,
        PAYMENTS_REVERSE,
        LEDGER_WAIVE_REQUEST,
        DUNNING_APPROVE,
        DUNNING_EXECUTE,
        PAYMENTS_RECONCILE,
        PAYMENTS_CLOSE_APPROVE,
        COLLECTION_ASSIGN,
        METERING_ARCHIVE,
        SERVICE_CHANGES,
        TARIFFS_SIMULATE,
    }
)

CAPABILITIES: Final[dict[str, frozenset[str]]] = {
    ADMIN: ALL_CAPABILITIES - {PORTAL_USE},
    BILLING_CLERK: frozenset(
        {
            DASHBOARD_VIEW,
            CUSTOMERS_VIEW,
            READINGS_VIEW,
            READINGS_IMPORT,
            BILLING_VIEW,
            BILLING_RUN,
            BILLING_REVIEW,
            LEDGER_VIEW,
            LEDGER_WAIVE,
            TARIFFS_VIEW,
            COLLECTION_VIEW,
            PAYMENTS_COUNTER,
            COLLECTION_ASSESS,
            DUNNING_MANAGE,
            PAYMENTS_REVERSE,
            LEDGER_WAIVE_REQUEST,
            PAYMENTS_RECONCILE,
            METERING_ARCHIVE,
            SERVICE_CHANGES,
        }
    ),
    METER_READER: frozenset({CUSTOMERS_VIEW, READINGS_VIEW, READINGS_IMPORT}),
    COLLECTOR: frozenset(
        {
            CUSTOMERS_VIEW,
            BILLING_VIEW,
            LEDGER_VIEW,
            COLLECTION_VIEW,
            PAYMENTS_COUNTER,
            PAYMENTS_COLLECT,
            COLLECTION_WORK,
            DUNNING_EXECUTE,
        }
    ),
    CS_AGENT: frozenset(
        {CUSTOMERS_VIEW, READINGS_VIEW, BILLING_VIEW, LEDGER_VIEW, TARIFFS_VIEW, LEDGER_WAIVE_REQUEST}
    ),
    MARKETING_MANAGER: frozenset(
        {
            DASHBOARD_VIEW,
            CUSTOMERS_VIEW,
            READINGS_VIEW,
            BILLING_VIEW,
            LEDGER_VIEW,
            TARIFFS_VIEW,
            OUTLETS_PLAN,
            COLLECTION_VIEW,
            COLLECTION_ASSESS,
            DUNNING_MANAGE,
            DUNNING_APPROVE,
            PAYMENTS_RECONCILE,
            PAYMENTS_CLOSE_APPROVE,
            COLLECTION_ASSIGN,
            TARIFFS_SIMULATE,
        }
    ),
    ANALYST: frozenset({DASHBOARD_VIEW, TARIFFS_VIEW, BILLING_VIEW, TARIFFS_SIMULATE}),
    CUSTOMER: frozenset({PORTAL_USE}),
}

#: Roles whose data is limited to the regions / routes in their StaffScope (unless scope.all_regions).
SCOPED_ROLES: Final = frozenset({METER_READER, COLLECTOR})
