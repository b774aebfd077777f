// Branding: read-only. The service has no endpoint to change it; it is set in the server's environment.
import { ErrorNote, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { Section } from "./common";

interface Brand {
  name: string | null;
  color: string | null;
  logo: string | null;
}

/** The brand as customers see it: read from the tracking page of a link that does not exist
 * (it is rendered with the same brand as every tracking page). */
async function loadBrand(): Promise<Brand> {
  const response = await fetch("/track/not-a-real-link", { credentials: "omit" });
  const html = await response.text();
  const page = new DOMParser().parseFromString(html, "text/html");
  const style = page.querySelector("style")?.textContent ?? "";
  return {
    name: page.querySelector("header p")?.textContent?.trim() || null,
    color: /--brand:\s*([^;]+);/.exec(style)?.[1]?.trim() ?? null,
    logo: page.querySelector("header img")?.getAttribute("src") ?? null,
  };
}

const SETTINGS = [
  { variable: "STEPWISE_SETTING_BRAND_NAME", what: "Company name", example: "Acme Shop" },
  { variable: "STEPWISE_SETTING_BRAND_COLOR", what: "Colour (#rgb or #rrggbb)", example: "#0f766e" },
  { variable: "STEPWISE_SETTING_BRAND_LOGO_URL", what: "Logo (https://…, or a path on this site)", example: "https://acme.example/logo.svg" },
];

export default function Branding() {
  const brand = useLoad(loadBrand, []);
  const b = brand.data;
  return (
    <div>
      <PageHeader title="Branding" />
      <Section title="What customers see" hint="The company name, colour and logo on the customer's order tracking page. They cannot be changed here: the service has no endpoint for branding yet.">
        <ErrorNote error={brand.error} />
        {brand.loading && !b ? (
          <Spinner />
        ) : (
          <div className="card">
            <dl className="facts" aria-label="Current branding">
              <dt>Company name</dt>
              <dd>{b?.name ?? <span className="hint">unknown</span>}</dd>
              <dt>Colour</dt>
              <dd>
                {b?.color ? (
                  <>
                    <span className="swatch" style={{ background: b.color }} aria-hidden="true" /> <span className="mono">{b.color}</span>
                  </>
                ) : (
                  <span className="hint">unknown</span>
                )}
              </dd>
              <dt>Logo</dt>
              <dd className="wrap-anywhere">{b?.logo ? <span className="mono">{b.logo}</span> : <span className="hint">none set</span>}</dd>
            </dl>
          </div>
        )}
      </Section>
      <Section title="How to change it" hint="Set these in the environment of every Stepwise process and restart them. A colour or logo that does not fit the pattern is left out.">
        <div className="table-wrap">
          <table aria-label="Branding settings">
            <thead>
              <tr>
                <th>Setting</th>
                <th>Environment variable</th>
                <th>Example</th>
              </tr>
            </thead>
            <tbody>
              {SETTINGS.map((s) => (
                <tr key={s.variable}>
                  <td>{s.what}</td>
                  <td className="mono">{s.variable}</td>
                  <td className="mono">{s.example}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p className="hint">The staff app (these pages) always shows the Stepwise name and colours.</p>
      </Section>
    </div>
  );
}
