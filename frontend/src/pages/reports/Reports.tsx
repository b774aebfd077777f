// Placeholder until this page is built (issue 8).
import { Empty } from "../../components/ui";

export default function Reports() {
  return <Empty title="Reports">This page is being built.</Empty>;
}
