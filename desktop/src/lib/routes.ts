// The views of the app. Only views that work are listed: each is a route (its hash path),
// a component, its place in the sidebar and palette, and its "go to" shortcut. Rules, the
// audit log and replay slot in here as they land.
import type { Component } from "svelte";
import type { IconName } from "./components/Icon.svelte";
import AccountsView from "./views/accounts/AccountsView.svelte";
import RulesView from "./views/rules/RulesRoute.svelte";
import AuditView from "./views/audit/AuditView.svelte";
import ReplayView from "./views/replay/ReplayView.svelte";
import DashboardView from "./views/dashboard/DashboardView.svelte";
import TeamsView from "./views/teams/TeamsView.svelte";
import LeadsView from "./views/leads/LeadsView.svelte";
import SettingsView from "./views/settings/SettingsView.svelte";

export interface RouteDef {
  path: string;
  title: string;
  /** One line for the palette. */
  description: string;
  icon: IconName;
  component: Component;
  /** `g` then a letter. */
  keys: string;
}

export const ROUTES: readonly RouteDef[] = [
  {
    path: "/dashboard",
    title: "Dashboard",
    description: "Campaigns, teams' capacity, decisions over time, and what needs attention",
    icon: "dashboard",
    component: DashboardView,
    keys: "g d",
  },
  {
    path: "/accounts",
    title: "Accounts",
    description: "Google accounts: connect, status, customers",
    icon: "accounts",
    component: AccountsView,
    keys: "g a",
  },
  {
    path: "/rules",
    title: "Rules",
    description: "Rules: edit, history and diff, dry run, backtest, fixtures",
    icon: "rules",
    component: RulesView,
    keys: "g r",
  },
  {
    path: "/audit",
    title: "Audit log",
    description: "Every event in log order: filter, detail, reveal, erase, verify the chain",
    icon: "log",
    component: AuditView,
    keys: "g l",
  },
  {
    path: "/replay",
    title: "Replay",
    description: "Time travel: campaigns, teams and rules at any moment, and why a campaign is paused",
    icon: "history",
    component: ReplayView,
    keys: "g t",
  },
  {
    path: "/teams",
    title: "Teams",
    description: "Teams and capacity: limits, business hours, members, readings and their sources",
    icon: "team",
    component: TeamsView,
    keys: "g m",
  },
  {
    path: "/leads",
    title: "Leads",
    description: "Leads and data subjects: find by id, email or phone; history, consent; export, erase, withdraw",
    icon: "person",
    component: LeadsView,
    keys: "g s",
  },
  {
    path: "/settings",
    title: "Settings",
    description: "Connection, API keys, webhooks and their deliveries, access log, notifications, theme",
    icon: "settings",
    component: SettingsView,
    keys: "g o",
  },
];

export const DEFAULT_ROUTE = "/dashboard";

export function routeFor(path: string): RouteDef | undefined {
  return ROUTES.find((r) => r.path === path);
}
