// Placeholder until this page is built (issue 7).
import { Empty } from "../components/ui";

export default function NewRequest() {
  return <Empty title="NewRequest">This page is being built.</Empty>;
}
