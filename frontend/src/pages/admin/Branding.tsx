// Branding: the company name, colour and logo customers see on their order tracking page and in
// emails; and a test email.
import { useEffect, useState, type FormEvent } from "react";

import { api } from "../../api";
import { ErrorNote, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { Section, useAction } from "./common";

interface Brand {
  name: string;
  color: string;
  logo_url: string | null;
  set_here: string[];
}

export default function Branding() {
  const brand = useLoad(() => api.get<Brand>("/api/admin/branding"), []);
  const action = useAction();
  const [name, setName] = useState("");
  const [color, setColor] = useState("#4338ca");
  const [logo, setLogo] = useState("");
  const [saved, setSaved] = useState(false);
  const mail = useAction();
  const [to, setTo] = useState("");
  const [mailed, setMailed] = useState<string | null>(null);

  useEffect(() => {
    if (!brand.data) return;
    setName(brand.data.name);
    setColor(brand.data.color);
    setLogo(brand.data.logo_url ?? "");
  }, [brand.data]);

  function save(event: FormEvent) {
    event.preventDefault();
    setSaved(false);
    void action.run(async () => {
      await api.put<Brand>("/api/admin/branding", { name, color, logo_url: logo });
      brand.reload();
      setSaved(true);
    });
  }

  function sendTest(event: FormEvent) {
    event.preventDefault();
    setMailed(null);
    void mail.run(async () => {
      const sent = await api.post<{ to: string; subject: string }>("/api/admin/branding/test-email", { to: to.trim() });
      setMailed(`Sent “${sent.subject}” to ${sent.to}. Check that it arrived, and how it looks.`);
    });
  }

  const reset = () =>
    action.run(async () => {
      await api.put<Brand>("/api/admin/branding", { name: "", color: "", logo_url: "" });
      brand.reload();
    });

  return (
    <div>
      <PageHeader title="Branding" />
      <Section
        title="What customers see"
        hint="The company name, colour and logo on the customer's order tracking page and in emails. What is not set here comes from the server's STEPWISE_SETTING_BRAND_* settings."
      >
        <ErrorNote error={action.error ?? brand.error} />
        {saved && (
          <p className="ok-note" role="status">
            Saved. Tracking pages show it from now on.
          </p>
        )}
        {brand.loading && !brand.data ? (
          <Spinner />
        ) : (
          <form className="card" onSubmit={save} aria-label="Branding" style={{ display: "grid", gap: "0.8rem", maxWidth: 520 }}>
            <label>
              Company name
              <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
            </label>
            <label>
              Colour
              <span className="row">
                <input type="color" aria-label="Pick a colour" value={/^#[0-9a-f]{6}$/i.test(color) ? color : "#4338ca"} onChange={(e) => setColor(e.target.value)} />
                <input aria-label="Colour as hex" value={color} onChange={(e) => setColor(e.target.value)} maxLength={7} style={{ width: "8rem" }} />
              </span>
            </label>
            <label>
              Logo address
              <input value={logo} onChange={(e) => setLogo(e.target.value)} placeholder="https://… or /path/on/this/site.png" maxLength={500} />
            </label>
            <div className="row">
              <button type="submit" className="primary" disabled={action.busy}>
                Save branding
              </button>
              <button type="button" onClick={reset} disabled={action.busy || !brand.data?.set_here.length}>
                Back to the defaults
              </button>
              {brand.data && brand.data.set_here.length > 0 && <span className="hint">Set here: {brand.data.set_here.join(", ")}</span>}
            </div>
          </form>
        )}
      </Section>
      <Section title="Test email" hint="Sends a sample email with this branding through the server's SMTP settings (STEPWISE_SETTING_SMTP_HOST and the rest), so you can see that emails go out and how they look.">
        <ErrorNote error={mail.error} />
        {mailed && (
          <p className="ok-note" role="status">
            {mailed}
          </p>
        )}
        <form className="row" onSubmit={sendTest} aria-label="Send a test email">
          <label style={{ flex: 1, maxWidth: 360 }}>
            Send to
            <input type="email" required value={to} onChange={(e) => setTo(e.target.value)} placeholder="you@example.com" maxLength={320} />
          </label>
          <button type="submit" disabled={mail.busy || !to.trim()} style={{ alignSelf: "flex-end" }}>
            {mail.busy ? "Sending…" : "Send test email"}
          </button>
        </form>
      </Section>
      <Section title="Preview">
        <div className="card" style={{ borderTop: `4px solid ${color}`, maxWidth: 520 }} aria-label="Preview of the tracking page header">
          <p style={{ color, fontWeight: 600, fontSize: "1.2rem", margin: 0 }}>{name || "Stepwise"}</p>
          <p className="muted" style={{ margin: "0.3rem 0 0" }}>
            Your order · Shipped
          </p>
        </div>
      </Section>
    </div>
  );
}
