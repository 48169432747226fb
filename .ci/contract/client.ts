// A small client made with openapi-fetch from the types openapi-typescript
// generates out of openapi.yaml: it must compile under `tsc --strict`, as an
// integrator's would. The steps are the ones a mobile or web app takes.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/schema";

type Ping = components["schemas"]["Ping"];

export async function scenario(baseUrl: string): Promise<void> {
  const api = createClient<paths>({ baseUrl });

  const signup = await api.POST("/v1/auth/signup", {
    body: {
      account_name: "Acme Plumbing",
      name: "Dana Reyes",
      email: `dana-${Date.now()}@example.com`,
      password: "correct horse battery staple",
    },
  });
  if (!signup.data) throw new Error(`signup: ${signup.error?.detail}`);
  const token: string = signup.data.access_token;
  const authed = { Authorization: `Bearer ${token}` };

  const page = await api.GET("/v1/customers", {
    params: { query: { limit: 50, sort: "name" } },
    headers: authed,
  });
  const names: string[] = (page.data?.data ?? []).map((c) => c.name);

  const created = await api.POST("/v1/customers", {
    params: { header: { "Idempotency-Key": crypto.randomUUID() } },
    headers: authed,
    body: { name: "Ada Example", phone: "+1 512 555 0100", tags: ["vip"] },
  });
  if (!created.data) throw new Error(`create: ${created.error?.detail}`);
  const customer = created.data;

  const patched = await api.PATCH("/v1/customers/{id}", {
    params: {
      path: { id: customer.id },
      header: { "If-Match": `"${customer.version}"` },
    },
    headers: authed,
    body: { notes: "Side door" },
  });
  if (!patched.data) throw new Error(`patch: ${patched.error?.detail}`);

  const starts = new Date(Date.now() + 86_400_000);
  const booked = await api.POST("/v1/appointments", {
    headers: authed,
    body: {
      customer_id: customer.id,
      title: "Boiler service",
      starts_at: starts.toISOString(),
      ends_at: new Date(starts.getTime() + 3_600_000).toISOString(),
    },
  });
  if (!booked.data) throw new Error(`book: ${booked.error?.detail}`);

  const shift = await api.POST("/v1/shifts/clock-in", { headers: authed, body: {} });
  if (!shift.data) throw new Error(`clock in: ${shift.error?.detail}`);

  const pings: Ping[] = [
    {
      id: crypto.randomUUID(),
      recorded_at: new Date().toISOString(),
      lat: 30.2672,
      lon: -97.7431,
      accuracy_m: 8,
    },
  ];
  const uploaded = await api.POST("/v1/pings", { headers: authed, body: { pings } });
  const accepted: number = uploaded.data?.accepted ?? 0;

  const route = await api.GET("/v1/shifts/{id}/route", {
    params: { path: { id: shift.data.id } },
    headers: authed,
  });
  console.log(names.length, accepted, route.response.status);
}
