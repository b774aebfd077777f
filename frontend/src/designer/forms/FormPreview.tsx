// The live preview of a form, rendered by @rjsf/core as the inbox shows it (loaded on demand).
import Form from "@rjsf/core";
import validator from "@rjsf/validator-ajv8";

import type { JsonSchema } from "../types";

export default function FormPreview({ schema, ui }: { schema: JsonSchema; ui?: Record<string, unknown> | null }) {
  return (
    <Form schema={schema} uiSchema={(ui ?? {}) as never} validator={validator} noHtml5Validate experimental_defaultFormStateBehavior={{ constAsDefaults: "never" }} showErrorList={false} className="wf-rjsf" idPrefix="preview" onSubmit={() => undefined}>
      <></>
    </Form>
  );
}
