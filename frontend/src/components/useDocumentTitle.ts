import { useEffect } from "react";

/** Name the browser tab after what the page shows ("Pick items · Stepwise") once it is known;
 * until then the area's title (set by the app shell) stays. */
export function useDocumentTitle(title: string | null | undefined): void {
  useEffect(() => {
    if (title) document.title = `${title} · Stepwise`;
  }, [title]);
}
