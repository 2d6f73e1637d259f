"""Web routes of the shell; each page module adds its own patterns here (one include line per module)."""

from django.urls import include, path

from wattdesk.interfaces.web import views
from wattdesk.interfaces.web.pages import audit as audit_pages
from wattdesk.interfaces.web.pages import billing as billing_pages
from wattdesk.interfaces.web.pages import bills as bill_pages
from wattdesk.interfaces.web.pages import cashier as cashier_pages
from wattdesk.interfaces.web.pages import collection as collection_pages
from wattdesk.interfaces.web.pages import corrections as correction_pages
from wattdesk.interfaces.web.pages import customers as customer_pages
from wattdesk.interfaces.web.pages import dashboard as dashboard_pages
from wattdesk.interfaces.web.pages import disconnection as disconnection_pages
from wattdesk.interfaces.web.pages import dunning as dunning_pages
from wattdesk.interfaces.web.pages import fee_control as fee_control_pages
from wattdesk.interfaces.web.pages import gateway as gateway_pages
from wattdesk.interfaces.web.pages import inspection as inspection_pages
from wattdesk.interfaces.web.pages import outlets as outlet_pages
from wattdesk.interfaces.web.pages import portal as portal_pages
from wattdesk.interfaces.web.pages import readings as readings_pages
from wattdesk.interfaces.web.pages import simulation as simulation_pages
from wattdesk.interfaces.web.pages import tariffs as tariff_pages
from wattdesk.interfaces.web.pages import tier_quotas as tier_quota_pages
from wattdesk.interfaces.web.pages import waivers as waiver_pages

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("health/", views.health, name="health"),
    path("portal/pay/", gateway_pages.portal_pay, name="portal_pay"),
    path("portal/pay/result/", gateway_pages.portal_pay_result, name="portal_pay_result"),
    path("gateway/callback/", gateway_pages.gateway_callback, name="gateway_callback"),
    path("gateway/reconcile/", gateway_pages.gateway_reconcile, name="gateway_reconcile"),
    path("portal/", include(portal_pages.urlpatterns)),
    path("", include(readings_pages.urlpatterns)),
    path("", include(billing_pages.urlpatterns)),
    path("", include(bill_pages.urlpatterns)),
    path("", include(correction_pages.urlpatterns)),
    path("", include(dunning_pages.urlpatterns)),
    path("", include(disconnection_pages.urlpatterns)),
    path("", include(waiver_pages.urlpatterns)),
    path("", include(tier_quota_pages.urlpatterns)),
    path("", include(inspection_pages.urlpatterns)),
    path("", include(collection_pages.urlpatterns)),
    path("audit/", audit_pages.audit_list, name="audit"),
    path("audit/export.csv", audit_pages.audit_export, name="audit_export"),
    path("audit/exports/<str:job_id>/", audit_pages.audit_export_job, name="audit_export_job"),
    path("audit/exports/<str:job_id>/file", audit_pages.audit_export_download, name="audit_export_download"),
    path("dashboard/", dashboard_pages.dashboard, name="dashboard"),
    path("outlets/", outlet_pages.outlets, name="outlets"),
    path("outlets/jobs/<str:job_id>/", outlet_pages.outlets_job, name="outlets_job"),
    path("simulations/", simulation_pages.simulations, name="simulations"),
    path("simulations/<int:simulation_id>/", simulation_pages.simulation, name="simulation"),
    path("simulations/<int:simulation_id>/poll/", simulation_pages.simulation_poll, name="simulation_poll"),
    path(
        "simulations/<int:simulation_id>/excel/", simulation_pages.simulation_excel, name="simulation_excel"
    ),
    path("cashier/", cashier_pages.cashier, name="cashier"),
    path("cashier/pay/", cashier_pages.cashier_pay, name="cashier_pay"),
    path("cashier/receipt/", cashier_pages.cashier_receipt, name="cashier_receipt"),
    path("cashier/reprint/", cashier_pages.cashier_reprint, name="cashier_reprint"),
    path("cashier/close/", cashier_pages.cashier_close, name="cashier_close"),
    path("cashier/closes/", cashier_pages.cash_closes, name="cash_closes"),
    path(
        "cashier/closes/<int:close_id>/approve/", cashier_pages.cash_close_approve, name="cash_close_approve"
    ),
    path("collector/", cashier_pages.collector, name="collector"),
    path("collector/confirm/", cashier_pages.collector_confirm, name="collector_confirm"),
    path("collector/pay/", cashier_pages.collector_pay, name="collector_pay"),
    path("collector/receipt/", cashier_pages.collector_receipt, name="collector_receipt"),
    path("collector/handover/", cashier_pages.collector_handover, name="collector_handover"),
    path("fee-control/", fee_control_pages.fee_control, name="fee_control"),
    path("customers/", customer_pages.customer_search, name="customer_search"),
    path("customers/<str:number>/", customer_pages.customer_detail, name="customer_detail"),
    path(
        "customers/<str:number>/bills/<int:bill_id>/lines/",
        customer_pages.bill_lines,
        name="customer_bill_lines",
    ),
    path("tariffs/", tariff_pages.tariff_list, name="tariff_list"),
    path("tariffs/<str:code>/<str:effective_from>/", tariff_pages.tariff_detail, name="tariff_detail"),
]
